import Foundation
import Logging
import ScoreCore
import ScoreHTTP
import ScoreHTTPTransport
import ScoreSampling
import Synchronization

/// The API without a socket: requests are `HTTPRequest` values handed to
/// `ScoreAPI.handle`, answers are read from an in-memory responder. Tests of what the
/// API answers use it; transport behaviour (connections, limits, disconnects, slow
/// clients) stays with `TestServer`.
final class InMemoryAPI: EngineWatching {
    let engine: SamplingEngine
    let api: ScoreAPI
    private let nextID = Atomic<Int>(0)

    init(models: [ScoreModel] = ServerModels.all, limits: APILimits = APILimits(), apiKey: String? = nil,
         engineThreads: Int = TestServer.engineThreads) {
        engine = SamplingEngine(threads: engineThreads)
        api = ScoreAPI(models: models, engine: engine, configuration: APIConfiguration(limits: limits, apiKey: apiKey),
                       logger: TestServer.quietLogger)
        api.state.markReady()
    }

    var stepsRun: Int { engine.stats.stepsRun }

    /// Hands one request to the API and waits for its answer.
    func request(_ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> HTTPReply {
        let path = String(target.prefix { $0 != "?" })
        var fields: [String: String] = [:]
        for (name, value) in headers { fields[name.lowercased()] = value }
        let id = "memory-\(nextID.add(1, ordering: .relaxed).newValue)"
        let request = HTTPRequest(method: method, path: path, headers: fields, body: body ?? [], id: id)
        let api = self.api
        let response = await withCheckedContinuation { (continuation: CheckedContinuation<HTTPResponse, Never>) in
            api.handle(request, HTTPResponder { continuation.resume(returning: $0) })
        }
        var replyHeaders: [String: String] = [:]
        for (name, value) in response.headers {
            let key = name.lowercased()
            replyHeaders[key] = replyHeaders[key].map { "\($0), \(value)" } ?? value
        }
        return HTTPReply(status: response.status, reason: "", headers: replyHeaders, body: response.body, trailing: [])
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> HTTPReply {
        try await request("GET", path, headers: headers)
    }

    func post(_ path: String, _ json: String, headers: [(String, String)] = []) async throws -> HTTPReply {
        var h = headers
        if !h.contains(where: { $0.0.lowercased() == "content-type" }) { h.append(("Content-Type", "application/json")) }
        return try await request("POST", path, headers: h, body: Array(json.utf8))
    }
}

/// Runs `body` with an in-memory API over `models`.
func withAPI<T>(models: [ScoreModel] = ServerModels.all, limits: APILimits = APILimits(), apiKey: String? = nil,
                _ body: (InMemoryAPI) async throws -> T) async throws -> T {
    try await body(InMemoryAPI(models: models, limits: limits, apiKey: apiKey))
}
