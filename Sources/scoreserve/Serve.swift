import ArgumentParser
import Dispatch
import Foundation
import Logging
import ScoreCore
import ScoreHTTP
import ScoreHTTPTransport
import ScoreSampling

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve every model under a directory over HTTP.",
        discussion: """
            Every option can also be set by the environment variable named in its help
            (the flag wins). On SIGTERM the server turns /readyz to 503 at once and keeps
            serving new work for --lame-duck-seconds (so load balancers that check /readyz
            take it out before it refuses anything), then answers new work with 503,
            finishes the work in flight (up to --grace-seconds), stops listening and exits
            0. SIGINT (Ctrl-C) does the same without the lame-duck period.

            Slow clients: a connection must deliver a request's head within
            --request-deadline-seconds of its opening or its last answer, and then the
            body within it again; one client address may hold at most
            --per-client-connection-limit connections (set 0 behind a proxy, whose address
            every request comes from). --probe-port adds a listener for /healthz, /readyz
            and /metrics alone, for health checks that API clients cannot crowd out.

            Examples:
              scoreserve serve --models Models --port 8080
              scoreserve serve --models Models:/srv/more-models   # shipped and extra models
              SCORESERVE_API_KEY=secret scoreserve serve --host 0.0.0.0
            """)

    @Option(help: "Address to bind; 0.0.0.0 or :: to listen on every interface. [SCORESERVE_HOST, default 127.0.0.1]")
    var host: String?
    @Option(help: "Port (0 picks a free one and prints it). [SCORESERVE_PORT, default 8080]")
    var port: Int?
    @Option(help: "Directory with one sub-directory per model; several joined by ':' are served together. [SCORESERVE_MODELS, default Models]")
    var models: String?
    @Option(help: "Sampling threads. [SCORESERVE_THREADS, default: the CPU limit of the container or the cores]")
    var threads: Int?
    @Option(help: "libmicrohttpd threads (they only move bytes). [SCORESERVE_HTTP_THREADS, default 4]")
    var httpThreads: Int?
    @Option(help: "Open connections at most. [SCORESERVE_CONNECTION_LIMIT, default 1024]")
    var connectionLimit: Int?
    @Option(help: "Open connections from one client address at most; 0 for no limit (behind a proxy). [SCORESERVE_PER_CLIENT_CONNECTION_LIMIT, default 64]")
    var perClientConnectionLimit: Int?
    @Option(help: "Seconds a connection may take to deliver a request's head (from its opening or last answer, so also the longest idle keep-alive), and then its body; 0 for none. [SCORESERVE_REQUEST_DEADLINE_SECONDS, default 10]")
    var requestDeadlineSeconds: Double?
    @Option(help: "Port of a second listener that serves /healthz, /readyz and /metrics only; 0 for none. [SCORESERVE_PROBE_PORT, default 0]")
    var probePort: Int?
    @Option(help: "Largest request body in bytes. [SCORESERVE_MAX_BODY_BYTES, default 16777216]")
    var maxBodyBytes: Int?
    @Option(help: "Largest n of a sampling request. [SCORESERVE_MAX_N, default 100000]")
    var maxN: Int?
    @Option(help: "Largest steps of a sampling request. [SCORESERVE_MAX_STEPS, default 100000]")
    var maxSteps: Int?
    @Option(help: "Most points in x or latents. [SCORESERVE_MAX_POINTS, default 100000]")
    var maxPoints: Int?
    @Option(help: "Work admitted at once, in samples × network evaluations; more gets 429. [SCORESERVE_MAX_WORK, default 500000000]")
    var maxWork: Int?
    @Option(help: "Deadline of a request without timeout_ms. [SCORESERVE_DEFAULT_TIMEOUT_MS, default 60000]")
    var defaultTimeoutMs: Int?
    @Option(help: "Largest timeout_ms accepted. [SCORESERVE_MAX_TIMEOUT_MS, default 600000]")
    var maxTimeoutMs: Int?
    @Option(help: "File holding the bearer token /v1/* requires (or set SCORESERVE_API_KEY). [SCORESERVE_API_KEY_FILE]")
    var apiKeyFile: String?
    @Option(help: "Seconds after SIGTERM during which /readyz is 503 but new work is still served. [SCORESERVE_LAME_DUCK_SECONDS, default 5]")
    var lameDuckSeconds: Double?
    @Option(help: "Seconds to finish work in flight once new work is refused. [SCORESERVE_GRACE_SECONDS, default 30]")
    var graceSeconds: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. [SCORESERVE_LOG_LEVEL, default info]")
    var logLevel: String?

    private func setting<T: LosslessStringConvertible>(_ flag: T?, _ variable: String, _ fallback: T) throws -> T {
        if let flag { return flag }
        if let text = ProcessInfo.processInfo.environment[variable] {
            guard let value = T(text) else { throw ValidationError("\(variable)='\(text)' is not a valid value") }
            return value
        }
        return fallback
    }

    func run() throws {
        // SIGTERM and SIGINT write a byte to a pipe (async-signal-safe) that this thread
        // waits on, so the drain never depends on a thread pool the engine keeps busy.
        let stopPipe = StopSignals.install()
        let env = ProcessInfo.processInfo.environment
        let level = Logger.Level(rawValue: try setting(logLevel, "SCORESERVE_LOG_LEVEL", "info")) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "scoreserve")

        var http = HTTPServerConfiguration()
        http.host = try setting(host, "SCORESERVE_HOST", "127.0.0.1")
        let portValue = try setting(port, "SCORESERVE_PORT", 8080)
        guard (0...65535).contains(portValue) else { throw ValidationError("--port must be 0…65535") }
        http.port = UInt16(portValue)
        http.threads = try setting(httpThreads, "SCORESERVE_HTTP_THREADS", 4)
        http.connectionLimit = try setting(connectionLimit, "SCORESERVE_CONNECTION_LIMIT", 1024)
        http.perClientConnectionLimit = try setting(perClientConnectionLimit, "SCORESERVE_PER_CLIENT_CONNECTION_LIMIT",
                                                    http.perClientConnectionLimit)
        http.requestDeadlineSeconds = try setting(requestDeadlineSeconds, "SCORESERVE_REQUEST_DEADLINE_SECONDS",
                                                  http.requestDeadlineSeconds)
        guard http.perClientConnectionLimit >= 0 else { throw ValidationError("--per-client-connection-limit must be 0 or more") }
        guard http.requestDeadlineSeconds >= 0 && http.requestDeadlineSeconds.isFinite else {
            throw ValidationError("--request-deadline-seconds must be 0 or more")
        }
        let probePortValue = try setting(probePort, "SCORESERVE_PROBE_PORT", 0)
        guard (0...65535).contains(probePortValue) else { throw ValidationError("--probe-port must be 0…65535") }
        var limits = APILimits()
        limits.maxBodyBytes = try setting(maxBodyBytes, "SCORESERVE_MAX_BODY_BYTES", limits.maxBodyBytes)
        limits.maxN = try setting(maxN, "SCORESERVE_MAX_N", limits.maxN)
        limits.maxSteps = try setting(maxSteps, "SCORESERVE_MAX_STEPS", limits.maxSteps)
        limits.maxPoints = try setting(maxPoints, "SCORESERVE_MAX_POINTS", limits.maxPoints)
        limits.maxWork = try setting(maxWork, "SCORESERVE_MAX_WORK", limits.maxWork)
        limits.defaultTimeoutMs = try setting(defaultTimeoutMs, "SCORESERVE_DEFAULT_TIMEOUT_MS", limits.defaultTimeoutMs)
        limits.maxTimeoutMs = try setting(maxTimeoutMs, "SCORESERVE_MAX_TIMEOUT_MS", limits.maxTimeoutMs)
        for (name, value) in [("max-body-bytes", limits.maxBodyBytes), ("max-n", limits.maxN), ("max-steps", limits.maxSteps),
                              ("max-points", limits.maxPoints), ("max-work", limits.maxWork),
                              ("default-timeout-ms", limits.defaultTimeoutMs), ("max-timeout-ms", limits.maxTimeoutMs)] where value < 1 {
            throw ValidationError("--\(name) must be positive")
        }
        limits.defaultTimeoutMs = min(limits.defaultTimeoutMs, limits.maxTimeoutMs)
        http.maxBodyBytes = limits.maxBodyBytes
        var apiKey = env["SCORESERVE_API_KEY"]
        if let file = apiKeyFile ?? env["SCORESERVE_API_KEY_FILE"] {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read the API key file \(file)")
            }
            apiKey = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let key = apiKey, key.isEmpty { throw ValidationError("the API key is empty") }
        let threadCount = try setting(threads, "SCORESERVE_THREADS", CPULimit.available())
        guard threadCount >= 1 else { throw ValidationError("--threads must be at least 1") }
        let grace = try setting(graceSeconds, "SCORESERVE_GRACE_SECONDS", 30)
        let lameDuck = try setting(lameDuckSeconds, "SCORESERVE_LAME_DUCK_SECONDS", 5.0)
        guard lameDuck >= 0 && lameDuck.isFinite else { throw ValidationError("--lame-duck-seconds must be 0 or more") }
        let modelsDirectory = try setting(models, "SCORESERVE_MODELS", "Models")

        // Broken connections must be errors, not a signal that kills the process.
        signal(SIGPIPE, SIG_IGN)
        let deferred = DeferredHandler()
        let server = HTTPServer(configuration: http, handler: deferred)
        do { try server.start() } catch { throw StartupError("\(error)") }
        logger.info("listening", metadata: ["host": "\(http.host)", "port": "\(server.port)"])
        // Probes get connections of their own: clients of the API cannot crowd them out.
        var probeServer: HTTPServer?
        if probePortValue != 0 {
            var probe = http
            probe.port = UInt16(probePortValue)
            probe.threads = 1
            probe.connectionLimit = 64
            probe.perClientConnectionLimit = 0
            probe.maxBodyBytes = 4096
            let listener = HTTPServer(configuration: probe, handler: ProbeHandler(deferred))
            do { try listener.start() } catch {
                server.stop()
                throw StartupError("probe port: \(error)")
            }
            probeServer = listener
            logger.info("probes listening", metadata: ["host": "\(http.host)", "port": "\(listener.port)"])
        }

        let loaded: [ScoreModel]
        let roots = modelsDirectory.split(separator: ":", omittingEmptySubsequences: true).map(String.init)
        guard !roots.isEmpty else {
            server.stop()
            probeServer?.stop()
            throw ValidationError("--models names no directory ('\(modelsDirectory)')")
        }
        do { loaded = try ScoreModel.loadAll(roots: roots) } catch {
            server.stop()
            probeServer?.stop()
            throw StartupError("cannot load models: \(error)")
        }
        if let warning = BLAS.concurrencyWarning(threads: threadCount) { logger.warning("\(warning)") }
        let engine = SamplingEngine(threads: threadCount)
        let api = ScoreAPI(models: loaded, engine: engine, configuration: APIConfiguration(limits: limits, apiKey: apiKey),
                           logger: Logger(label: "scoreserve.http"))
        deferred.install(api)
        api.state.markReady()
        logger.info("ready", metadata: ["models": "\(loaded.map(\.name).joined(separator: ","))",
                                        "threads": "\(threadCount)", "auth": "\(apiKey != nil)",
                                        "blas": "\(BLAS.description)"])
        // One line on stdout that scripts and tests can read.
        FileHandle.standardOutput.write(Data("scoreserve listening on \(http.host):\(server.port) with \(loaded.count) model(s)\n".utf8))

        let received = StopSignals.wait(stopPipe)
        // Lame duck (SIGTERM, what orchestrators send): /readyz turns 503 so load
        // balancers stop sending, while whatever they still send (requests already on
        // their way, checks not yet run) is served. SIGINT (Ctrl-C) skips it.
        let pause = received == SIGTERM ? lameDuck : 0
        logger.info("lame duck", metadata: ["signal": "\(received)", "seconds": "\(pause)"])
        api.state.markLameDuck()
        if pause > 0 { usleep(UInt32(min(pause, 3600) * 1e6)) }
        logger.info("draining", metadata: ["grace_seconds": "\(grace)"])
        api.state.markDraining()
        let deadline = DispatchTime.now() + .seconds(grace)
        while server.activeRequests > 0 && DispatchTime.now() < deadline { usleep(20_000) }
        if server.activeRequests > 0 {
            logger.warning("grace period over; cancelling work in flight", metadata: ["requests": "\(server.activeRequests)"])
            api.cancelAll()
        }
        server.quiesce()
        server.stop()
        probeServer?.stop()
        logger.info("stopped")
    }
}

/// A failure to start serving: printed as `scoreserve: error: …` without a usage hint.
struct StartupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
