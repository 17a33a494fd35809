import Foundation
import Testing
import ScoreJSON
#if canImport(Glibc)
import Glibc
#endif

// End-to-end tests of `scoreserve serve` as a real process: graceful drain on SIGTERM
// and SIGINT, configuration by SCORESERVE_* variables, and startup errors. The binary
// sits beside the test bundle in .build (as for the CLI tests); every server listens
// on 127.0.0.1 with --port 0 and the port is read from its one stdout line.
//
// Blocking work (sockets, waiting for the child) runs on threads of its own, never on
// the Swift concurrency pool, which the in-process server tests share.

@Suite("scoreserve serve as a process")
struct ServeProcessTests {
    private static let models = ServeProcessPaths.packageRoot.appendingPathComponent("Models").path

    // MARK: a. Graceful drain

    @Test("SIGTERM: /readyz turns 503 at once, new work is served for the lame-duck period and refused after it, work in flight completes, exit 0")
    func sigtermDrains() async throws {
        // One sampling thread, so the long request takes seconds whatever the core count
        // (480 samples × 30,000 Euler–Maruyama steps: about 5–7 s in the optimised build
        // `make test` uses, longer unoptimised; 320 took 3.5–4.6 s once the step noise was
        // vectorised), well past the lame duck below.
        let lameDuck = 2.0
        let server = try await ServeProcess.start(["--port", "0", "--models", Self.models, "--threads", "1",
                                                   "--grace-seconds", "120", "--lame-duck-seconds", "\(lameDuck)",
                                                   "--log-level", "warning"])
        defer { server.forceStop() }
        let port = server.port
        let longN = 480
        let longBody = #"{"n":\#(longN),"steps":30000,"seed":7,"sampler":"euler_maruyama"}"#
        // Sent at once from a thread of its own (not from a task a busy pool may start late).
        let long = ServeProcessBackground {
            let reply = try ProcessHTTPClient.send(port: port, "POST", "/v1/models/gmm-demo/sample",
                                                   body: longBody, timeout: 150)
            return (reply, ContinuousClock.now)
        }
        // From the moment the long request is admitted, on one thread of its own (a hop
        // through a busy concurrency pool can take seconds): SIGTERM, then readiness, a new
        // request and liveness during the lame duck, and a new request after it, while the
        // long request is still in flight.
        let drain = try await serveProcessOnThread { () throws -> ServeProcessDrain in
            guard try server.waitForWorkInFlight(timeout: 30) else { return ServeProcessDrain(admitted: false) }
            var d = ServeProcessDrain(admitted: true)
            d.killedAt = .now
            d.killed = kill(server.pid, SIGTERM) == 0
            // The signal is handled asynchronously: a bounded poll for the 503.
            d.notReady = try server.pollReadyz(until: 503, timeout: 5)
            d.served = Result { try ProcessHTTPClient.send(port: port, "POST", "/v1/models/gmm-demo/sample", body: #"{"n":1,"steps":5}"#) }
            d.live = Result { try ProcessHTTPClient.send(port: port, "GET", "/healthz") }
            Thread.sleep(forTimeInterval: lameDuck + 0.5)
            d.refused = Result { try ProcessHTTPClient.send(port: port, "POST", "/v1/models/gmm-demo/sample", body: #"{"n":1,"steps":5}"#) }
            return d
        }
        #expect(drain.admitted, "the long request was never admitted")
        #expect(drain.killed)
        // Readiness turns 503 at once; during the lame duck new work is served and
        // liveness answers; after it new work is refused with the JSON error shape.
        #expect(drain.notReady?.status == 503)
        #expect(drain.notReady?.json == .object(JSONObject(["ready": .bool(false)])))
        switch drain.served {
        case .success(let served)?: #expect(served.status == 200, "new work during the lame duck: \(served)")
        case .failure(let error)?: Issue.record("new work during the lame duck: \(error); stderr: \(server.stderrText)")
        case nil: break
        }
        switch drain.refused {
        case .success(let refused)?:
            #expect(refused.status == 503, "\(refused)")
            expectProcessError(refused, code: "unavailable")
        case .failure(let error)?: Issue.record("new work while draining: \(error); stderr: \(server.stderrText)")
        case nil: break
        }
        switch drain.live {
        case .success(let live)?: #expect(live.status == 200, "\(live)")
        case .failure(let error)?: Issue.record("/healthz while draining: \(error); stderr: \(server.stderrText)")
        case nil: break
        }

        // The request in flight completes in full.
        let result: (ProcessHTTPReply, ContinuousClock.Instant)
        do { result = try await serveProcessOnThread { try long.value() } } catch {
            Issue.record("the request in flight failed: \(error); stderr: \(server.stderrText)")
            return
        }
        let (reply, finishedAt) = result
        #expect(reply.status == 200, "\(reply)")
        if let killedAt = drain.killedAt {
            #expect(finishedAt > killedAt, "the long request finished before SIGTERM: nothing was drained")
        }
        if case .object(let o)? = reply.json, case .array(let samples)? = o["samples"], case .array(let nfe)? = o["nfe"] {
            #expect(o["n"] == .integer(Int64(longN)) && o["seed"] == .integer(7) && o["model"] == .string("gmm-demo"))
            #expect(samples.count == longN && nfe.count == longN)
            for case .array(let point) in samples { #expect(point.count == 2 && point.allSatisfy { $0.doubleValue?.isFinite == true }) }
        } else {
            Issue.record("the long request's answer is not a sample answer: \(reply)")
        }

        // Then the process stops listening and exits 0 (not checked by connecting: another
        // test's server may already hold the freed port).
        let exit = try await serveProcessOnThread { server.waitForExit(timeout: 10) }
        #expect(exit == .exited(0), "\(exit.map { "\($0)" } ?? "still running 10 s after the drain"); stderr: \(server.stderrText)")
    }

    @Test("the probe port answers while the main port's connection table is full, and serves only the probes")
    func probePort() async throws {
        let (fd, probe) = try ProcessHTTPClient.listenOnFreePort()
        close(fd)
        let server = try await ServeProcess.start(["--port", "0", "--models", Self.models, "--threads", "1",
                                                   "--connection-limit", "16", "--per-client-connection-limit", "0",
                                                   "--probe-port", "\(probe)", "--lame-duck-seconds", "0",
                                                   "--log-level", "error"])
        defer { server.forceStop() }
        let port = server.port
        let result = try await serveProcessOnThread { () throws -> (main: Bool, probes: [Int], seconds: Double, post: Int) in
            // 40 connections that send half a request head: the main table (16) is full.
            let client = HTTPTestClient(port: port, timeout: 2)
            var slow: [Int32] = []
            defer { for fd in slow { close(fd) } }
            for _ in 0..<40 {
                guard let fd = try? client.connect() else { continue }
                _ = try? HTTPTestClient.sendAll(fd, Array("GET /healthz HTTP/1.1\r\nHost: a\r\n".utf8))
                slow.append(fd)
            }
            let main = (try? ProcessHTTPClient.send(port: port, "GET", "/healthz", timeout: 1))?.status == 200
            let start = DispatchTime.now()
            let probes = try ["/healthz", "/readyz", "/metrics"].map { try ProcessHTTPClient.send(port: probe, "GET", $0, timeout: 5).status }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            let post = try ProcessHTTPClient.send(port: probe, "POST", "/v1/models/gmm-demo/sample", body: #"{"n":1}"#).status
            return (main, probes, seconds, post)
        }
        #expect(!result.main, "the main port still answered with its table full: the test did not fill it")
        #expect(result.probes == [200, 200, 200], "probe answers \(result.probes); stderr: \(server.stderrText)")
        #expect(result.seconds < 1, "the probes took \(result.seconds) s")
        #expect(result.post == 404, "the probe port served work: \(result.post)")
    }

    @Test("SIGINT on an idle server exits 0 promptly")
    func sigintIdle() async throws {
        let server = try await ServeProcess.start(["--port", "0", "--models", Self.models, "--threads", "1"])
        defer { server.forceStop() }
        let exit = try await serveProcessOnThread { () -> ServeProcessExit? in
            guard kill(server.pid, SIGINT) == 0 else { return nil }
            return server.waitForExit(timeout: 5)
        }
        #expect(exit == .exited(0), "\(exit.map { "\($0)" } ?? "still running 5 s after SIGINT"); stderr: \(server.stderrText)")
    }

    /// The ready line promises a server that stops gracefully: a signal sent the moment
    /// it is read (by the thread that read it) must be neither fatal nor lost, so the
    /// handling must be in place, for every thread of the process, before it is printed.
    @Test("a signal sent right after the ready line still drains and exits 0", arguments: [SIGTERM, SIGINT])
    func signalRightAfterReadyLine(signal: Int32) async throws {
        for attempt in 1...6 {
            let server = try await ServeProcess.start(["--port", "0", "--models", Self.models, "--threads", "1",
                                                       "--lame-duck-seconds", "0", "--log-level", "warning"],
                                                      signalOnReadyLine: signal)
            defer { server.forceStop() }
            let exit = try await serveProcessOnThread { server.waitForExit(timeout: 5) }
            #expect(exit == .exited(0), "signal \(signal), attempt \(attempt): \(exit.map { "\($0)" } ?? "still running 5 s later (signal lost)")")
            if exit != .exited(0) { break }
        }
    }

    // MARK: b. Configuration by environment

    @Test("SCORESERVE_* variables configure port, limits and the API key")
    func environment() async throws {
        let server = try await ServeProcess.start([], environment: [
            "SCORESERVE_PORT": "0", "SCORESERVE_HOST": "127.0.0.1", "SCORESERVE_MODELS": Self.models,
            "SCORESERVE_MAX_N": "5", "SCORESERVE_API_KEY": "secret", "SCORESERVE_THREADS": "1",
            "SCORESERVE_LOG_LEVEL": "warning",
        ])
        defer { server.forceStop() }
        let port = server.port
        #expect(port != 8080, "SCORESERVE_PORT=0 should pick a free port, not the default")
        let auth = [("Authorization", "Bearer secret")]

        let replies = try await serveProcessOnThread {
            [
                try ProcessHTTPClient.send(port: port, "POST", "/v1/models/gmm-demo/sample",
                                           body: #"{"n":6,"steps":5}"#, headers: auth),
                try ProcessHTTPClient.send(port: port, "POST", "/v1/models/gmm-demo/sample",
                                           body: #"{"n":5,"steps":5,"seed":1}"#, headers: auth),
                try ProcessHTTPClient.send(port: port, "POST", "/v1/models/gmm-demo/sample", body: #"{"n":1,"steps":5}"#),
                try ProcessHTTPClient.send(port: port, "GET", "/v1/models", headers: [("Authorization", "Bearer wrong")]),
                try ProcessHTTPClient.send(port: port, "GET", "/healthz"),
                try ProcessHTTPClient.send(port: port, "GET", "/readyz"),
            ]
        }
        let (tooMany, five, noKey, wrongKey, health, ready) = (replies[0], replies[1], replies[2], replies[3], replies[4], replies[5])
        #expect(tooMany.status == 400, "\(tooMany)")
        expectProcessError(tooMany, code: "invalid_argument", mentions: ["n", "5"])
        #expect(five.status == 200, "\(five)")
        if case .object(let o)? = five.json { #expect(o["n"] == .integer(5)) } else { Issue.record("\(five)") }
        #expect(noKey.status == 401, "\(noKey)")
        expectProcessError(noKey, code: "unauthorized")
        #expect(noKey.headers["www-authenticate"]?.hasPrefix("Bearer") == true, "\(noKey)")
        #expect(wrongKey.status == 401, "\(wrongKey)")
        #expect(health.status == 200 && ready.status == 200, "liveness and readiness need no token")

        #expect(kill(server.pid, SIGTERM) == 0)
        let exit = try await serveProcessOnThread { server.waitForExit(timeout: 10) }
        #expect(exit == .exited(0), "stderr: \(server.stderrText)")
    }

    @Test("a flag wins over its variable; the key can come from SCORESERVE_API_KEY_FILE")
    func flagWinsOverEnvironment() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-process-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keyFile = dir.appendingPathComponent("key")
        try Data("from-file\n".utf8).write(to: keyFile)
        let server = try await ServeProcess.start(["--port", "0", "--max-n", "7", "--models", Self.models], environment: [
            "SCORESERVE_PORT": "1", "SCORESERVE_MAX_N": "5", "SCORESERVE_API_KEY_FILE": keyFile.path,
            "SCORESERVE_THREADS": "1", "SCORESERVE_LOG_LEVEL": "warning",
        ])
        defer { server.forceStop() }
        let port = server.port
        let replies = try await serveProcessOnThread {
            [
                try ProcessHTTPClient.send(port: port, "POST", "/v1/models/gmm-demo/sample", body: #"{"n":6,"steps":5}"#,
                                           headers: [("Authorization", "Bearer from-file")]),
                try ProcessHTTPClient.send(port: port, "POST", "/v1/models/gmm-demo/sample", body: #"{"n":8,"steps":5}"#,
                                           headers: [("Authorization", "Bearer from-file")]),
            ]
        }
        #expect(replies[0].status == 200, "--max-n 7 should win over SCORESERVE_MAX_N=5: \(replies[0])")
        #expect(replies[1].status == 400, "\(replies[1])")
        expectProcessError(replies[1], code: "invalid_argument", mentions: ["n", "7"])
    }

    @Test("an invalid variable is a startup error naming it")
    func invalidVariable() async throws {
        let r = try await ServeProcess.runToExit(["--port", "0", "--models", Self.models],
                                                 environment: ["SCORESERVE_MAX_N": "lots"])
        #expect(r.exit != .exited(0) && r.exit != nil)
        #expect(r.stderr.contains("SCORESERVE_MAX_N"), "\(r.stderr)")
        #expect(!r.stdout.contains("listening"))
    }

    @Test("serve --help names every option and its SCORESERVE_ variable")
    func help() async throws {
        let r = try await ServeProcess.runToExit(["--help"])
        #expect(r.exit == .exited(0))
        let options = ["host", "port", "models", "threads", "http-threads", "connection-limit", "max-body-bytes",
                       "max-n", "max-steps", "max-points", "max-work", "default-timeout-ms", "max-timeout-ms",
                       "api-key-file", "grace-seconds", "log-level"]
        for option in options {
            #expect(r.stdout.contains("--\(option) "), "help lacks --\(option)")
            let variable = "SCORESERVE_" + option.uppercased().replacingOccurrences(of: "-", with: "_")
            #expect(r.stdout.contains(variable), "help lacks \(variable)")
        }
        #expect(r.stdout.contains("SCORESERVE_API_KEY)") || r.stdout.contains("SCORESERVE_API_KEY "))
        #expect(r.stdout.contains("SIGTERM"))
    }

    // MARK: c. Startup errors

    @Test("a broken model is a startup error naming the file", arguments: [
        ("missing-weights", #"{"data": {"shape": [2]}, "sde": {"type": "vp"}, "network": {"type": "mlp"}}"#, "model.safetensors"),
        ("bad-json", #"{"data": {"shape": [2]"#, "config.json"),
    ])
    func brokenModel(name: String, config: String, file: String) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("serve-process-\(UUID().uuidString)")
        let dir = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try Data(config.utf8).write(to: dir.appendingPathComponent("config.json"))
        let r = try await ServeProcess.runToExit(["--port", "0", "--models", root.path, "--log-level", "warning"])
        #expect(r.exit != nil && r.exit != .exited(0), "a broken model must stop the server: \(r.exit.map { "\($0)" } ?? "still running")")
        #expect(r.stderr.contains(dir.appendingPathComponent(file).path), "stderr should name \(file): \(r.stderr)")
        #expect(!r.stdout.contains("listening"), "no ready line with a broken model: \(r.stdout)")
    }

    @Test("a port already in use is a startup error saying so")
    func portInUse() async throws {
        let (fd, port) = try ProcessHTTPClient.listenOnFreePort()
        defer { close(fd) }
        let r = try await ServeProcess.runToExit(["--port", String(port), "--models", Self.models, "--log-level", "warning"])
        #expect(r.exit != nil && r.exit != .exited(0))
        #expect(r.stderr.contains("cannot listen on 127.0.0.1:\(port)") && r.stderr.contains("in use"), "\(r.stderr)")
        #expect(!r.stdout.contains("listening"))
    }
}

// MARK: - Support (private to this file)

private enum ServeProcessPaths {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built `scoreserve`: beside the test bundle (or a directory above it).
    static var binary: URL {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("scoreserve").path),
              dir.path != "/" { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("scoreserve")
    }
}

/// Checks `{"error":{"code":…,"message":…}}` (exactly those keys), the message mentioning `mentions`.
private func expectProcessError(_ reply: ProcessHTTPReply, code: String, mentions: [String] = [],
                                sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.headers["content-type"]?.hasPrefix("application/json") == true, "\(reply)", sourceLocation: sourceLocation)
    guard case .object(let o)? = reply.json, o.keys == ["error"], case .object(let e)? = o["error"],
          Set(e.keys) == ["code", "message"], case .string(let message)? = e["message"] else {
        Issue.record("not the JSON error shape: \(reply)", sourceLocation: sourceLocation)
        return
    }
    #expect(e["code"] == .string(code), "\(reply)", sourceLocation: sourceLocation)
    for word in mentions {
        #expect(message.contains(word), "message should mention \(word): \(message)", sourceLocation: sourceLocation)
    }
}

/// Runs blocking work on a thread of its own and awaits it.
private func serveProcessOnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        let thread = Thread {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

private struct ServeProcessError: Error, CustomStringConvertible {
    let description: String
}

/// Work started at once on a thread of its own; `value()` blocks until it is done.
private final class ServeProcessBackground<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `result` is written once by the worker before `done` is
    // signalled, and read only after waiting on `done`.
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, any Error>?

    init(_ body: @escaping @Sendable () throws -> T) {
        let thread = Thread { [self] in
            result = Result { try body() }
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    func value() throws -> T {
        done.wait()
        done.signal()
        return try result!.get()
    }
}

/// What the SIGTERM test saw while the long request was in flight.
private struct ServeProcessDrain: Sendable {
    /// New work sent during the lame duck.
    var served: Result<ProcessHTTPReply, any Error>?
    var admitted: Bool
    var killed = false
    var killedAt: ContinuousClock.Instant?
    var notReady: ProcessHTTPReply?
    var refused: Result<ProcessHTTPReply, any Error>?
    var live: Result<ProcessHTTPReply, any Error>?
}

/// How a child process ended.
private enum ServeProcessExit: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    var description: String {
        switch self {
        case .exited(let s): "exit status \(s)"
        case .signalled(let s): "killed by signal \(s)"
        }
    }
}

/// The exit of a child, set by its termination handler.
private final class ServeProcessExitState: @unchecked Sendable {
    // @unchecked Sendable: `value` is guarded by `lock`.
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var value: ServeProcessExit?

    func set(_ exit: ServeProcessExit) {
        lock.lock()
        value = exit
        lock.unlock()
        done.signal()
    }

    /// The exit, waiting up to `timeout` seconds; nil while the child runs.
    func wait(timeout: Double) -> ServeProcessExit? {
        guard done.wait(timeout: .now() + timeout) == .success else { return nil }
        done.signal() // Stays signalled for later waits.
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

/// A `scoreserve serve` child process.
private final class ServeProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is set up and started in init, then only read;
    // `port` and `stdoutText` are written while starting, before the object is shared.
    private let process: Process
    private let exitState = ServeProcessExitState()
    private let stdoutPipe = Pipe()
    private let stderrURL: URL
    private(set) var port: UInt16 = 0
    private(set) var stdoutText = ""

    var pid: pid_t { process.processIdentifier }

    private init(arguments: [String], environment: [String: String]) throws {
        stderrURL = FileManager.default.temporaryDirectory.appendingPathComponent("serve-process-\(UUID().uuidString).err")
        guard FileManager.default.createFile(atPath: stderrURL.path, contents: nil) else {
            throw ServeProcessError(description: "cannot create \(stderrURL.path)")
        }
        process = Process()
        process.executableURL = ServeProcessPaths.binary
        process.arguments = ["serve"] + arguments
        // The test's own environment without any SCORESERVE_* setting, plus `environment`.
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SCORESERVE_") }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdoutPipe
        let stderrHandle = try FileHandle(forWritingTo: stderrURL)
        defer { try? stderrHandle.close() }
        process.standardError = stderrHandle
        process.terminationHandler = { [exitState] p in
            exitState.set(p.terminationReason == .exit ? .exited(p.terminationStatus) : .signalled(p.terminationStatus))
        }
        // A child inherits the signal mask of the thread that spawns it, and threads of the
        // concurrency pool and of Dispatch block nearly every signal. Spawn with an empty
        // mask, as a shell, systemd or a container runtime would, so the server's own
        // signal handling is what the tests see. (Callers run this on a thread of its own.)
        var empty = sigset_t(), saved = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
    }

    deinit { try? FileManager.default.removeItem(at: stderrURL) }

    var stderrText: String {
        (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
    }

    /// Starts a server, reads its port from the stdout line and waits until /readyz is 200.
    /// With `signalOnReadyLine` it sends that signal the moment the line is read and
    /// returns without polling.
    static func start(_ arguments: [String], environment: [String: String] = [:],
                      signalOnReadyLine: Int32? = nil) async throws -> ServeProcess {
        let server = try await serveProcessOnThread { try ServeProcess(arguments: arguments, environment: environment) }
        do {
            try await serveProcessOnThread { try server.awaitReady(signalOnReadyLine: signalOnReadyLine) }
        } catch {
            server.forceStop()
            throw error
        }
        return server
    }

    /// Runs `serve` with `arguments` and waits (at most 20 s) for it to exit by itself.
    static func runToExit(_ arguments: [String], environment: [String: String] = [:]) async throws
        -> (exit: ServeProcessExit?, stdout: String, stderr: String) {
        let child = try await serveProcessOnThread { try ServeProcess(arguments: arguments, environment: environment) }
        defer { child.forceStop() }
        let exit = try await serveProcessOnThread { child.waitForExit(timeout: 20) }
        let out = child.readStdoutToEnd()
        return (exit, out, child.stderrText)
    }

    private func awaitReady(signalOnReadyLine: Int32?) throws {
        let line = try readLine(timeout: 30, signalOnNewline: signalOnReadyLine)
        let prefix = "scoreserve listening on "
        guard line.hasPrefix(prefix), line.contains(" with "),
              let hostPort = line.dropFirst(prefix.count).split(separator: " ").first,
              let portText = hostPort.split(separator: ":").last, let p = UInt16(portText), p != 0 else {
            throw ServeProcessError(description: "unexpected first stdout line \(line.debugDescription); stderr: \(stderrText)")
        }
        port = p
        guard signalOnReadyLine == nil else { return }
        // The line is printed once the models are loaded: /readyz should be 200 at once.
        guard let ready = try pollReadyz(until: 200, timeout: 10), ready.json == .object(JSONObject(["ready": .bool(true)])) else {
            throw ServeProcessError(description: "/readyz never answered {\"ready\":true}; stderr: \(stderrText)")
        }
    }

    /// Reads one line from the child's stdout, failing past `timeout` seconds or at EOF.
    /// With `signalOnNewline`, sends that signal to the child right after the read that
    /// brings the newline, before anything else (the tightest race a supervisor can make).
    private func readLine(timeout: Double, signalOnNewline: Int32? = nil) throws -> String {
        let fd = stdoutPipe.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        while true {
            if let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) {
                stdoutText += String(decoding: bytes, as: UTF8.self)
                return String(decoding: bytes[..<newline], as: UTF8.self)
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else {
                throw ServeProcessError(description: "no ready line within \(timeout) s; stdout so far \(String(decoding: bytes, as: UTF8.self).debugDescription); stderr: \(stderrText)")
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let n = poll(&pfd, 1, Int32(min(left, 1) * 1000))
            if n < 0 && errno != EINTR { throw ServeProcessError(description: "poll failed: errno \(errno)") }
            guard n > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let pid = self.pid
            let got = buffer.withUnsafeMutableBytes { raw -> Int in
                let n = read(fd, raw.baseAddress, raw.count)
                if n > 0, let sig = signalOnNewline, let base = raw.baseAddress, memchr(base, 10, n) != nil { kill(pid, sig) }
                return n
            }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw ServeProcessError(description: "stdout closed before the ready line (\(String(decoding: bytes, as: UTF8.self).debugDescription)); stderr: \(stderrText)")
            }
            bytes += buffer[..<got]
        }
    }

    /// Whatever the child wrote to stdout (call after it exited).
    func readStdoutToEnd() -> String {
        let fd = stdoutPipe.fileHandleForReading.fileDescriptor
        var text = stdoutText
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { break }
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard got > 0 else { break }
            text += String(decoding: buffer[..<got], as: UTF8.self)
        }
        return text
    }

    /// Polls /readyz until it answers `status` (nil when it never does within `timeout`).
    func pollReadyz(until status: Int, timeout: Double) throws -> ProcessHTTPReply? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if let reply = try? ProcessHTTPClient.send(port: port, "GET", "/readyz", timeout: 5), reply.status == status {
                return reply
            }
            usleep(10_000)
        } while Date() < deadline
        return nil
    }

    /// Polls /metrics until `scoreserve_work_in_flight` is positive.
    func waitForWorkInFlight(timeout: Double) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            let metrics = try ProcessHTTPClient.send(port: port, "GET", "/metrics", timeout: 5).text
            for line in metrics.split(separator: "\n") where line.hasPrefix("scoreserve_work_in_flight ") {
                if let value = Double(line.split(separator: " ").last ?? ""), value > 0 { return true }
            }
            usleep(10_000)
        } while Date() < deadline
        return false
    }

    /// Waits up to `timeout` seconds for the child to exit; nil if it is still running.
    func waitForExit(timeout: Double) -> ServeProcessExit? {
        exitState.wait(timeout: timeout)
    }

    /// Kills the child if it still runs (cleanup after a failed expectation).
    func forceStop() {
        guard waitForExit(timeout: 0) == nil else { return }
        kill(pid, SIGKILL)
        _ = waitForExit(timeout: 10)
    }
}

// MARK: - A raw-socket HTTP/1.1 client

private struct ProcessHTTPReply: CustomStringConvertible, Sendable {
    let status: Int
    /// Header names lowercased.
    let headers: [String: String]
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue? { try? JSONValue.parse(body) }
    var description: String { "HTTP \(status) \(text.prefix(300).debugDescription)" }
}

/// One request per connection (`Connection: close`), read to EOF; `SO_RCVTIMEO` and
/// `SO_SNDTIMEO` turn a hang into an error.
private enum ProcessHTTPClient {
    static func send(port: UInt16, _ method: String, _ path: String, body: String? = nil,
                     headers: [(String, String)] = [], timeout: Double = 15) throws -> ProcessHTTPReply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServeProcessError(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ServeProcessError(description: "connect to port \(port): errno \(errno)") }

        let payload = Array((body ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if body != nil { head += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let request = Array((head + "\r\n").utf8) + payload
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, request.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ServeProcessError(description: "send \(method) \(path): errno \(errno)") }
            sent += n
        }

        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw ServeProcessError(description: "\(method) \(path): no complete answer within \(timeout) s")
                }
                throw ServeProcessError(description: "\(method) \(path): recv errno \(errno)")
            }
            bytes += buffer[..<n]
        }
        return try parse(bytes, what: "\(method) \(path)")
    }

    private static func parse(_ bytes: [UInt8], what: String) throws -> ProcessHTTPReply {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<($0 + 4)]) == separator }) else {
            throw ServeProcessError(description: "\(what): no complete header in \(bytes.count) bytes")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw ServeProcessError(description: "\(what): bad status line \(lines[0].debugDescription)")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            body = try dechunk(body, what: what)
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            guard body.count == length else {
                throw ServeProcessError(description: "\(what): Content-Length \(length) but \(body.count) body bytes")
            }
        }
        return ProcessHTTPReply(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ data: [UInt8], what: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while true {
            guard let lineEnd = (i..<max(i, data.count - 1)).first(where: { data[$0] == 13 && data[$0 + 1] == 10 }),
                  let size = Int(String(decoding: data[i..<lineEnd], as: UTF8.self).split(separator: ";")[0], radix: 16) else {
                throw ServeProcessError(description: "\(what): bad chunked body")
            }
            if size == 0 { return out }
            let start = lineEnd + 2
            guard start + size <= data.count else { throw ServeProcessError(description: "\(what): truncated chunk") }
            out += data[start..<(start + size)]
            i = start + size + 2
        }
    }

    /// A listening socket on a free port of 127.0.0.1 (to occupy it).
    static func listenOnFreePort() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServeProcessError(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw ServeProcessError(description: "cannot listen on a free port: errno \(errno)")
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }
}
