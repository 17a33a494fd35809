import Dispatch
import Foundation
import Logging
import ScoreCore
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling
import Synchronization

/// The HTTP API of the contract (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`,
/// `/v1/models…`): validates requests, admits work, runs it on the engine and encodes
/// the answers. It knows the transport only through `HTTPRequest` and `HTTPResponder`.
public final class ScoreAPI: HTTPHandler {
    public let engine: SamplingEngine
    public let configuration: APIConfiguration
    public let metrics: Metrics
    public let state: ServerState
    let models: [String: ScoreModel]
    let modelNames: [String]
    let admission: Admission
    let logger: Logger
    /// Cancellation tokens of the jobs in flight.
    let jobs = Mutex<[ObjectIdentifier: CancellationToken]>([:])
    private let openAPIText: [UInt8]
    // Written once in init (the routes capture self), read-only afterwards.
    nonisolated(unsafe) private var router: HTTPRouter

    /// The routes, for metrics labels.
    public static let routes = [
        "/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/models", "/v1/models/{name}",
        "/v1/models/{name}/sample", "/v1/models/{name}/likelihood", "/v1/models/{name}/score",
        "/v1/models/{name}/encode",
    ]

    public init(models: [ScoreModel], engine: SamplingEngine, configuration: APIConfiguration = APIConfiguration(),
                metrics: Metrics = Metrics(routes: ScoreAPI.routes), state: ServerState = ServerState(),
                logger: Logger = Logger(label: "scoreserve.http")) {
        self.engine = engine
        self.configuration = configuration
        self.metrics = metrics
        self.state = state
        self.logger = logger
        var byName: [String: ScoreModel] = [:]
        for m in models { byName[m.name] = m }
        self.models = byName
        modelNames = byName.keys.sorted()
        admission = Admission(capacity: configuration.limits.maxWork)
        let document = OpenAPIDocument.make(limits: configuration.limits, authEnabled: configuration.apiKey != nil)
        openAPIText = Array(((try? document.encoded()) ?? "{}").utf8)
        router = HTTPRouter { status, message in
            APIError(status: status, code: APIError.code(for: status), message: message).response
        }
        metrics.setModelsLoaded(models.count)
        let stats = engine.stats
        metrics.setEngineSteps { stats.stepsRun }
        addRoutes()
    }

    /// The error answer for the transport's own refusals (413).
    public static func errorResponse(status: Int, message: String) -> HTTPResponse {
        APIError(status: status, code: APIError.code(for: status), message: message).response
    }

    private func addRoutes() {
        router.add("GET", "/healthz") { [unowned self] _, r in r.respond(self.json(.object(JSONObject(["status": .string("ok")])))) }
        router.add("GET", "/readyz") { [unowned self] _, r in
            let ready = self.state.isReady
            r.respond(self.json(.object(JSONObject(["ready": .bool(ready)])), status: ready ? 200 : 503))
        }
        router.add("GET", "/metrics") { [unowned self] _, r in
            self.metrics.setReady(self.state.isReady)
            self.metrics.setWorkInFlight(self.admission.current)
            r.respond(HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                   body: Array(self.metrics.exposition().utf8)))
        }
        router.add("GET", "/openapi.json") { [unowned self] _, r in
            r.respond(HTTPResponse(status: 200, contentType: "application/json", body: self.openAPIText))
        }
        router.add("GET", "/v1/models") { [unowned self] req, r in
            self.guarded(req, r, post: false) {
                let list = self.modelNames.map { JSONValue.object(self.models[$0]!.info) }
                r.respond(self.json(.object(JSONObject(["models": .array(list)]))))
            }
        }
        router.add("GET", "/v1/models/{name}") { [unowned self] req, r in
            self.guarded(req, r, post: false) { r.respond(self.json(.object(try self.model(req).info))) }
        }
        router.add("POST", "/v1/models/{name}/sample") { [unowned self] req, r in
            self.guarded(req, r, post: true) { try self.sample(req, r) }
        }
        router.add("POST", "/v1/models/{name}/likelihood") { [unowned self] req, r in
            self.guarded(req, r, post: true) { try self.likelihood(req, r) }
        }
        router.add("POST", "/v1/models/{name}/score") { [unowned self] req, r in
            self.guarded(req, r, post: true) { try self.score(req, r) }
        }
        router.add("POST", "/v1/models/{name}/encode") { [unowned self] req, r in
            self.guarded(req, r, post: true) { try self.encode(req, r) }
        }
    }

    // MARK: Handling

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let start = DispatchTime.now().uptimeNanoseconds
        let route = router.pattern(for: request.path) ?? "unmatched"
        metrics.requestStarted()
        let wrapped = responder.wrapping { [metrics, logger] response in
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            metrics.requestFinished()
            metrics.observeRequest(route: route, method: ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"].contains(request.method) ? request.method : "OTHER", status: response.status, seconds: seconds)
            logger.info("request", metadata: [
                "id": "\(request.id)", "method": "\(request.method)", "route": "\(route)",
                "path": "\(request.path)", "status": "\(response.status)",
                "duration_ms": "\((seconds * 1e6).rounded() / 1e3)",
            ])
            return response
        }
        router.handle(request, wrapped)
    }

    /// Runs a `/v1` handler: authentication, draining, media type; errors become answers.
    private func guarded(_ request: HTTPRequest, _ responder: HTTPResponder, post: Bool,
                         _ body: () throws -> Void) {
        do {
            if let key = configuration.apiKey {
                // The scheme is case-insensitive (RFC 9110); the token is not.
                guard let given = request.header("authorization"), given.lowercased().hasPrefix("bearer "),
                      constantTimeEqual(String(given.dropFirst(7)).trimmingCharacters(in: .whitespaces), key) else {
                    metrics.reject(reason: "unauthorized")
                    throw APIError(status: 401, code: "unauthorized", message: "a valid bearer token is required",
                                   headers: [("WWW-Authenticate", "Bearer realm=\"scoreserve\"")])
                }
            }
            if post {
                guard state.isReady else {
                    metrics.reject(reason: "draining")
                    throw APIError(status: 503, code: "unavailable",
                                   message: state.current == .draining ? "the server is shutting down" : "the server is starting")
                }
                try requireJSON(request)
            }
            try body()
        } catch let error as APIError {
            if error.status == 400 { metrics.reject(reason: "invalid") }
            if error.status == 429 { metrics.reject(reason: "overloaded") }
            responder.respond(error.response)
        } catch let error as SamplingError {
            let e = APIError(error)
            if e.status == 400 { metrics.reject(reason: "invalid") }
            responder.respond(e.response)
        } catch {
            responder.respond(APIError(status: 500, code: "internal", message: "\(error)").response)
        }
    }

    /// 415 unless the body is declared JSON (curl's default form type is let through:
    /// the JSON parser then decides).
    private func requireJSON(_ request: HTTPRequest) throws(APIError) {
        guard let type = request.header("content-type") else { return }
        let media = (type.split(separator: ";", omittingEmptySubsequences: false).first.map(String.init) ?? "")
            .trimmingCharacters(in: .whitespaces).lowercased()
        if media == "application/json" || media.hasSuffix("+json") || media == "application/x-www-form-urlencoded" {
            return
        }
        throw APIError(status: 415, code: "unsupported_media_type",
                       message: "the body must be application/json, got \(media.isEmpty ? "an empty media type" : media)")
    }

    func model(_ request: HTTPRequest) throws(APIError) -> ScoreModel {
        let name = request.parameters["name"] ?? ""
        guard let m = models[name] else {
            throw APIError(status: 404, code: "not_found", message: "no model named '\(name)'")
        }
        return m
    }

    func json(_ value: JSONValue, status: Int = 200) -> HTTPResponse {
        do {
            return HTTPResponse(status: status, contentType: "application/json", body: Array(try value.encoded().utf8))
        } catch {
            return APIError(status: 422, code: "non_finite", message: "the answer holds a non-finite number: \(error)").response
        }
    }

    /// The deadline of a request: its `timeout_ms` or the server's default.
    func deadline(_ timeoutMs: Int64?) -> DispatchTime {
        .now() + .milliseconds(Int(timeoutMs ?? Int64(configuration.limits.defaultTimeoutMs)))
    }

    /// Cancels every job in flight (when a drain's grace period has run out).
    public func cancelAll() {
        for token in jobs.withLock({ Array($0.values) }) { token.cancel() }
    }

    /// Ties a job to its client: a disconnect cancels it.
    func control(for responder: HTTPResponder, timeoutMs: Int64?, progress: JobProgress) -> JobControl {
        let token = CancellationToken()
        jobs.withLock { $0[ObjectIdentifier(token)] = token }
        responder.disconnect.onDisconnect { [metrics] in
            if !token.isCancelled { metrics.reject(reason: "cancelled") }
            token.cancel()
        }
        return JobControl(token: token, deadline: deadline(timeoutMs), progress: progress)
    }

    /// Records a finished job's outcome in the metrics.
    func finished<T>(_ result: Result<T, SamplingError>, control: JobControl, submitted: UInt64, progress: JobProgress) {
        _ = jobs.withLock { $0.removeValue(forKey: ObjectIdentifier(control.token)) }
        let started = progress.firstChunkStartNanoseconds
        if started > submitted { metrics.observeQueueWait(seconds: Double(started - submitted) / 1e9) }
        if case .failure(.deadlineExceeded) = result { metrics.reject(reason: "deadline") }
    }
}

private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var diff = UInt8(x.count == y.count ? 0 : 1)
    for i in 0..<max(x.count, y.count) {
        diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return diff == 0
}
