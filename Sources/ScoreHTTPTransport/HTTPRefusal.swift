/// Why the transport answers a request by itself instead of the handler serving it.
///
/// The handler still writes the answer (`HTTPHandler.refuse`, `refusalResponse`), so
/// the refusal has the API's error shape and is logged and counted like any request.
public enum HTTPRefusal: Sendable, Equatable {
    /// The body is over `limit` bytes: `declared` by `Content-Length` (refused before any
    /// of it is read), or nil when a chunked body passed the limit while it streamed in.
    case bodyTooLarge(limit: Int, declared: Int?)
    /// The server is stopping and the handler has not answered in time.
    case stopping

    /// The answer's status: 413 or 503.
    public var status: Int {
        switch self {
        case .bodyTooLarge: 413
        case .stopping: 503
        }
    }

    /// What happened, in words for the answer's message.
    public var message: String {
        switch self {
        case .bodyTooLarge(let limit, let declared?): "the body is \(declared) bytes; the limit is \(limit)"
        case .bodyTooLarge(let limit, nil): "the body passed the \(limit)-byte limit"
        case .stopping: "the server is stopping"
        }
    }
}
