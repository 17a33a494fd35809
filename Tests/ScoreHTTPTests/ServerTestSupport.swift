import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Testing
import ScoreCore
import ScoreHTTP
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

/// In-memory analytic models for the server tests (the same construction as the
/// sampling tests' `TestModels`, which this target cannot import).
enum ServerModels {
    static let mixture2D: [GaussianMixture.Component] = [
        .init(weight: 0.5, mean: [-2, 0], std: [0.4, 0.4]),
        .init(weight: 0.3, mean: [2, 1], std: [0.3, 0.5]),
        .init(weight: 0.2, mean: [0.5, -2.5], std: [0.5, 0.3]),
    ]

    static func gmm(_ sde: SDE, name: String, components: [GaussianMixture.Component] = mixture2D,
                    shift: [Double]? = nil, scale: [Double]? = nil, levels: Int? = nil) -> ScoreModel {
        let d = components[0].mean.count
        let data = DataSpec(shape: [d], shift: shift ?? Array(repeating: 0, count: d),
                            scale: scale ?? Array(repeating: 1, count: d), levels: levels)
        let config = ModelConfig(name: name, description: "test mixture \(name)", data: data, sde: sde,
                                 network: .gmm(components), weights: nil)
        return ScoreModel(directory: "(memory)", config: config,
                          network: GaussianMixture(sde: sde, components: components))
    }

    static let vp = gmm(SDE(kind: .vp), name: "gmm-vp")
    static let ve = gmm(SDE(kind: .ve), name: "gmm-ve")
    static let subvp = gmm(SDE(kind: .subvp), name: "gmm-subvp")
    /// Data scale 1e300: every sample leaves the Float32 range (a 422).
    static let huge = gmm(SDE(kind: .vp), name: "gmm-huge", scale: [1e300, 1e300])

    static let all = [vp, ve, subvp, huge]
}

/// An in-process server: the real `HTTPServer` (libmicrohttpd) on 127.0.0.1 and an
/// ephemeral port, serving a `ScoreAPI` over in-memory models.
final class TestServer: Sendable {
    let engine: SamplingEngine
    let api: ScoreAPI
    let server: HTTPServer
    let client: HTTPTestClient

    /// Sampling threads for tests: one fewer than the cores, so Dispatch's global pool
    /// (which the engine's workers share with the HTTP handlers, see
    /// `ServerConcurrencyTests.healthzAnswersWhileEveryCoreComputes`) keeps a thread
    /// for the handlers.
    static let engineThreads = max(1, ProcessInfo.processInfo.activeProcessorCount - 1)

    static let quietLogger = Logger(label: "scoreserve.test", factory: { _ in SwiftLogNoOpLogHandler() })

    init(models: [ScoreModel] = ServerModels.all, limits: APILimits = APILimits(), apiKey: String? = nil,
         engineThreads: Int = TestServer.engineThreads, chunkSize: Int = 32, clientTimeout: Double = 30,
         transport: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        signal(SIGPIPE, SIG_IGN)
        engine = SamplingEngine(threads: engineThreads, chunkSize: chunkSize)
        api = ScoreAPI(models: models, engine: engine, configuration: APIConfiguration(limits: limits, apiKey: apiKey),
                       logger: Self.quietLogger)
        var http = HTTPServerConfiguration()
        http.host = "127.0.0.1"
        http.port = 0
        http.threads = 2
        http.connectionTimeoutSeconds = 20
        http.maxBodyBytes = limits.maxBodyBytes
        transport(&http)
        server = HTTPServer(configuration: http, handler: api)
        try server.start()
        api.state.markReady()
        client = HTTPTestClient(port: server.port, timeout: clientTimeout)
    }

    var port: UInt16 { server.port }
    var stepsRun: Int { engine.stats.stepsRun }

    /// Stops the server once no request is in flight (libmicrohttpd aborts the process
    /// when stopped with a suspended connection); a server that does not drain within
    /// `seconds` is left running and the test fails.
    func stop(drainSeconds: Double = 20) async {
        let deadline = Date().addingTimeInterval(drainSeconds)
        while server.activeRequests > 0 && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard server.activeRequests == 0 else {
            Issue.record("\(server.activeRequests) request(s) still in flight after \(drainSeconds) s; server left running")
            return
        }
        server.stop()
    }

    // MARK: Client calls off the concurrency pool

    func get(_ path: String, headers: [(String, String)] = []) async throws -> HTTPReply {
        let c = client
        return try await onThread { try c.get(path, headers: headers) }
    }

    func post(_ path: String, _ json: String, headers: [(String, String)] = []) async throws -> HTTPReply {
        let c = client
        return try await onThread { try c.post(path, json, headers: headers) }
    }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> HTTPReply {
        let c = client
        return try await onThread { try c.request(method, path, headers: headers, body: body) }
    }

    func exchange(_ bytes: [UInt8], method: String = "GET") async throws -> HTTPReply {
        let c = client
        return try await onThread { try c.exchange(bytes, method: method) }
    }

    func open(_ method: String, _ path: String, json: String) async throws -> OpenConnection {
        let c = client
        return try await onThread {
            try c.open(method, path, headers: [("Content-Type", "application/json")], body: Array(json.utf8))
        }
    }

    func read(_ connection: OpenConnection) async throws -> HTTPReply {
        try await onThread { try connection.read() }
    }

}

/// A test target whose engine's step counter can be watched.
protocol EngineWatching: Sendable {
    var stepsRun: Int { get }
}

extension TestServer: EngineWatching {}

extension EngineWatching {

    /// Polls until the engine's step counter has grown by `by` (a job is running);
    /// false if it did not within `seconds`.
    func waitForSteps(growing by: Int = 1, from start: Int? = nil, seconds: Double = 10) async -> Bool {
        let base = start ?? stepsRun
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stepsRun >= base + by { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    /// Polls until two reads of the step counter `interval` apart are equal (no job is
    /// running); returns how long that took, or nil if the counter still grew after `seconds`.
    func waitForEngineIdle(seconds: Double = 3, interval: Duration = .milliseconds(200)) async -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < seconds {
            let a = stepsRun
            try? await Task.sleep(for: interval)
            if stepsRun == a { return Date().timeIntervalSince(start) }
        }
        return nil
    }
}

/// Runs `body` with a started server and stops it afterwards, also when `body` throws.
func withServer<T>(models: [ScoreModel] = ServerModels.all, limits: APILimits = APILimits(), apiKey: String? = nil,
                   engineThreads: Int = TestServer.engineThreads, clientTimeout: Double = 30,
                   _ body: (TestServer) async throws -> T) async throws -> T {
    let server = try TestServer(models: models, limits: limits, apiKey: apiKey, engineThreads: engineThreads,
                                clientTimeout: clientTimeout)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

// MARK: JSON helpers

extension JSONObject {
    func int(_ key: String) -> Int64? { if case .integer(let i)? = self[key] { return i } else { return nil } }
    func string(_ key: String) -> String? { if case .string(let s)? = self[key] { return s } else { return nil } }
    func array(_ key: String) -> [JSONValue]? { if case .array(let a)? = self[key] { return a } else { return nil } }
    func bool(_ key: String) -> Bool? { if case .bool(let b)? = self[key] { return b } else { return nil } }

    /// `[[Double]]` of a points field.
    func points(_ key: String) -> [[Double]]? {
        guard let rows = array(key) else { return nil }
        var out: [[Double]] = []
        for row in rows {
            guard case .array(let items) = row else { return nil }
            let values = items.compactMap(\.doubleValue)
            guard values.count == items.count else { return nil }
            out.append(values)
        }
        return out
    }

    /// `[Double]` of a flat numeric array field.
    func numbers(_ key: String) -> [Double]? {
        guard let items = array(key) else { return nil }
        let values = items.compactMap(\.doubleValue)
        return values.count == items.count ? values : nil
    }
}

/// Checks that `reply` is the contract's JSON error with `status`, and that the message
/// contains every one of `mentions` (case-insensitively).
func expectError(_ reply: HTTPReply, _ status: Int, code: String? = nil, mentions: [String] = [],
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(reply.status == status, "expected \(status): \(reply)", sourceLocation: sourceLocation)
    #expect(reply.header("content-type")?.hasPrefix("application/json") == true,
            "error content type: \(reply)", sourceLocation: sourceLocation)
    guard let error = reply.error else {
        Issue.record("not the {\"error\":{\"code\",\"message\"}} shape: \(reply)", sourceLocation: sourceLocation)
        return
    }
    if let code { #expect(error.code == code, "code of \(reply)", sourceLocation: sourceLocation) }
    for word in mentions {
        #expect(error.message.lowercased().contains(word.lowercased()),
                "message '\(error.message)' should name '\(word)'", sourceLocation: sourceLocation)
    }
}
