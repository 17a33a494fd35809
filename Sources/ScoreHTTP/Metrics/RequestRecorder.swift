import Dispatch
import Logging
import ScoreHTTPTransport
import Synchronization

/// The one wrapper around every request the server answers: routed, turned away by
/// the router, or refused by the transport. It keeps the in-flight gauge, counts and
/// times the answer by route, counts a rejection by the error table (`ErrorStatus`),
/// and writes the request's log line. Nothing else writes request metrics.
struct RequestRecorder: Sendable {
    let metrics: Metrics
    let logger: Logger

    /// Methods with a label of their own; the rest are counted as OTHER (each label
    /// value is a series for ever).
    private static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

    /// Watches the answer to `request` on `responder`, whoever gives it; `route` is the
    /// matched pattern, or "unmatched".
    func watch(_ request: HTTPRequest, route: String, _ responder: HTTPResponder) {
        let start = DispatchTime.now().uptimeNanoseconds
        let outcome = Outcome()
        metrics.requestStarted()
        responder.disconnect.onDisconnect { [metrics] in
            // Counted when the client leaves, not when its cancelled work answers later.
            if outcome.leave() { metrics.reject(reason: ErrorStatus.cancelledRejection) }
        }
        responder.onAnswer { answered in
            // A streamed answer counts when its stream ends, as what it amounted to.
            guard let stream = answered.stream else { return record(answered) }
            stream.onFinish { outcome in record(outcome ?? answered) }
        }
        @Sendable func record(_ response: HTTPResponse) {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            metrics.requestFinished()
            if outcome.answer(), let reason = (response.error as? APIError)?.kind.rejection {
                metrics.reject(reason: reason)
            }
            metrics.observeRequest(route: route, method: Self.methods.contains(request.method) ? request.method : "OTHER",
                                   status: response.status, seconds: seconds)
            logger.info("request", metadata: [
                "id": "\(request.id)", "method": "\(request.method)", "route": "\(route)",
                "path": "\(request.path)", "status": "\(response.status)",
                "duration_ms": "\((seconds * 1e6).rounded() / 1e3)",
            ])
        }
    }
}

/// Whether a request's client left before its answer or got it: whichever comes
/// first decides how the request counts.
private final class Outcome: Sendable {
    private enum State { case waiting, left, answered }
    private let state = Mutex(State.waiting)

    /// The client is gone; true when that was before the answer.
    func leave() -> Bool {
        state.withLock { s in
            guard s == .waiting else { return false }
            s = .left
            return true
        }
    }

    /// The answer is given; true unless the client had left before.
    func answer() -> Bool {
        state.withLock { s in
            defer { s = .answered }
            return s == .waiting
        }
    }
}
