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
/// the answers. It knows the transport only through `HTTPRequest`, `HTTPResponder` and
/// `HTTPRefusal`.
public final class ScoreAPI: HTTPHandler {
    public let engine: SamplingEngine
    public let configuration: APIConfiguration
    public let metrics: Metrics
    public let state: ServerState
    let models: [String: ScoreModel]
    let modelNames: [String]
    let admission: Admission
    /// Each operation's request-field table under this server's limits, built once.
    let fieldTables: [ScoreSampling.Operation: [RequestField]]
    let logger: Logger
    /// Writes every request's metrics and log line.
    private let recorder: RequestRecorder
    /// Cancellation tokens of the jobs in flight.
    let jobs = Mutex<[ObjectIdentifier: CancellationToken]>([:])
    private let openAPIText: [UInt8]
    // Written once in init (the routes, here and in ScoreAPI+V2, capture self),
    // read-only afterwards.
    nonisolated(unsafe) var router: HTTPRouter

    /// The API's version (the OpenAPI document's and the V2 server metadata's).
    public static let version = "1.0.0"

    /// The routes, for metrics labels.
    public static let routes = [
        "/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/models", "/v1/models/{name}",
        "/v1/models/{name}/sample", "/v1/models/{name}/likelihood", "/v1/models/{name}/score",
        "/v1/models/{name}/encode",
    ] + ScoreAPI.v2Routes

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
        let limits = configuration.limits.fields
        fieldTables = Dictionary(uniqueKeysWithValues: ScoreSampling.Operation.allCases.map {
            ($0, RequestFields.table($0, limits: limits))
        })
        let document = OpenAPIDocument.make(limits: configuration.limits, authEnabled: configuration.apiKey != nil)
        openAPIText = Array(((try? document.encoded()) ?? "{}").utf8)
        router = HTTPRouter()
        recorder = RequestRecorder(metrics: metrics, logger: logger)
        metrics.setModelsLoaded(models.count)
        let stats = engine.stats
        metrics.setEngineSteps { stats.stepsRun }
        metrics.setNetworkEvaluations { stats.networkEvaluations }
        addRoutes()
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
        addV2Routes()
    }

    // MARK: Handling

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let match = router.match(method: request.method, path: request.path)
        recorder.watch(request, route: match.pattern ?? "unmatched", responder)
        switch match {
        case .route(let route, _, let parameters):
            var r = request
            r.parameters = parameters
            route(r, responder)
        case .notFound:
            responder.respond(Self.shaped(APIError.noRoute(request.path), for: request))
        case .methodNotAllowed(_, let allowed):
            responder.respond(Self.shaped(APIError.methodNotAllowed(request.method, request.path, allowed: allowed), for: request))
        }
    }

    /// An error in the shape of the request's protocol: `{"error": "…"}` under `/v2`,
    /// `/v1`'s `{"error": {"code", "message"}}` elsewhere.
    static func shaped(_ error: APIError, for request: HTTPRequest) -> HTTPResponse {
        request.path == "/v2" || request.path.hasPrefix("/v2/") ? error.v2Response : error.response
    }

    /// Answers the transport's refusal (a body over the limit) like any request: it is
    /// counted under its route and logged.
    public func refuse(_ request: HTTPRequest, _ refusal: HTTPRefusal, _ responder: HTTPResponder) {
        let route = router.match(method: request.method, path: request.path).pattern
        recorder.watch(request, route: route ?? "unmatched", responder)
        responder.respond(Self.shaped(APIError(refusal), for: request))
    }

    /// A refusal in the API's error shape (413 `payload_too_large`, 503 `unavailable`).
    public func refusalResponse(_ refusal: HTTPRefusal) -> HTTPResponse {
        APIError(refusal).response
    }

    /// Runs a `/v1` handler: authentication, draining, media type; errors become answers
    /// (counted by the recorder, from the error table).
    private func guarded(_ request: HTTPRequest, _ responder: HTTPResponder, post: Bool,
                         _ body: () throws -> Void) {
        do {
            try check(request, post: post, binary: false)
            try body()
        } catch {
            responder.respond(Self.apiError(error).response)
        }
    }

    /// Any error as the API error it answers with.
    static func apiError(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError: error
        case let error as SamplingError: APIError(error)
        default: APIError.unexpected("\(error)")
        }
    }

    /// What every route checks before its handler: the API key; for work (`post`), that
    /// the server takes work and that the body is JSON — or, `binary`, also
    /// `application/octet-stream` or untyped (the Open Inference Protocol's clients).
    func check(_ request: HTTPRequest, post: Bool, binary: Bool) throws(APIError) {
        if let key = configuration.apiKey {
            // The scheme is case-insensitive (RFC 9110); the token is not.
            guard let given = request.header("authorization"), given.lowercased().hasPrefix("bearer "),
                  constantTimeEqual(String(given.dropFirst(7)).trimmingCharacters(in: .whitespaces), key) else {
                throw APIError.unauthorized
            }
        }
        if post {
            guard state.acceptsWork else { throw APIError.notReady(draining: state.current == .draining) }
            try requireMediaType(request, binary: binary)
        }
    }

    /// 415 unless the body is declared JSON: `application/json` or `application/*+json`
    /// (with `binary`, also `application/octet-stream` or no type at all). A form post
    /// (`application/x-www-form-urlencoded`, curl's `-d` default, `multipart/form-data`,
    /// `text/plain`) is refused, and on `/v1` a body without a type too: a web page can
    /// send those cross-site without a CORS preflight, and must never start work on a
    /// server a browser can reach. (A page cannot send a custom-typed or untyped body
    /// cross-site without a preflight either, except `text/plain`, so `/v2`'s untyped
    /// bodies are safe.)
    private func requireMediaType(_ request: HTTPRequest, binary: Bool) throws(APIError) {
        guard let type = request.header("content-type") else {
            if binary { return }
            throw APIError.unsupportedMediaType(nil, binary: false)
        }
        let media = (type.split(separator: ";", omittingEmptySubsequences: false).first.map(String.init) ?? "")
            .trimmingCharacters(in: .whitespaces).lowercased()
        if media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json"))
            || (binary && media == "application/octet-stream") {
            return
        }
        throw APIError.unsupportedMediaType(media, binary: binary)
    }

    func model(_ request: HTTPRequest) throws(APIError) -> ScoreModel {
        let name = request.parameters["name"] ?? ""
        guard let m = models[name] else {
            throw APIError.unknownModel(name)
        }
        return m
    }

    func json(_ value: JSONValue, status: Int = 200) -> HTTPResponse {
        do {
            return HTTPResponse(status: status, contentType: "application/json", body: Array(try value.encoded().utf8))
        } catch {
            return APIError(.nonFinite, "the answer holds a non-finite number: \(error)").response
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

    /// Ties a job to its client: a disconnect cancels it (the recorder counts it) and
    /// answers at once, so the transport lets go of the connection now, not when the
    /// cancelled job's turn comes in the queue (a client that hangs up again and again
    /// must not pile up open connections).
    func control(for responder: HTTPResponder, timeoutMs: Int64?, progress: JobProgress) -> JobControl {
        let token = CancellationToken()
        jobs.withLock { $0[ObjectIdentifier(token)] = token }
        // Weak: the responder owns its disconnect signal, which owns this closure.
        responder.disconnect.onDisconnect { [weak responder] in
            token.cancel()
            responder?.respond(APIError(SamplingError.cancelled).response)
        }
        return JobControl(token: token, deadline: deadline(timeoutMs), progress: progress)
    }

    /// Records a finished job's queue wait (its answer is counted by the recorder).
    func finished(control: JobControl, submitted: UInt64, progress: JobProgress) {
        _ = jobs.withLock { $0.removeValue(forKey: ObjectIdentifier(control.token)) }
        let started = progress.firstChunkStartNanoseconds
        if started > submitted { metrics.observeQueueWait(seconds: Double(started - submitted) / 1e9) }
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
