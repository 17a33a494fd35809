import ScoreHTTPTransport
import ScoreJSON
import Synchronization

/// Serves while the models load: `/healthz` answers 200 and everything else 503 until
/// the API is installed, so the process is live before it is ready.
public final class DeferredHandler: HTTPHandler {
    private let api = Mutex<ScoreAPI?>(nil)

    public init() {}

    /// Starts routing every request to `handler`.
    public func install(_ handler: ScoreAPI) { api.withLock { $0 = handler } }

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        if let handler = api.withLock({ $0 }) {
            handler.handle(request, responder)
            return
        }
        let body: String
        let status: Int
        switch request.path {
        case "/healthz": (status, body) = (200, #"{"status":"ok"}"#)
        case "/readyz": (status, body) = (503, #"{"ready":false}"#)
        default:
            responder.respond(APIError.notReady(draining: false).response)
            return
        }
        responder.respond(HTTPResponse(status: status, contentType: "application/json", body: Array(body.utf8)))
    }

    /// Passes a refusal to the API once it is installed (which counts and logs it).
    public func refuse(_ request: HTTPRequest, _ refusal: HTTPRefusal, _ responder: HTTPResponder) {
        if let handler = api.withLock({ $0 }) {
            handler.refuse(request, refusal, responder)
        } else {
            responder.respond(refusalResponse(refusal))
        }
    }

    /// A refusal in the API's error shape, also while starting.
    public func refusalResponse(_ refusal: HTTPRefusal) -> HTTPResponse {
        APIError(refusal).response
    }
}
