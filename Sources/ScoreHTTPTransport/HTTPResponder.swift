import Synchronization

/// Fires once when the client of a running request goes away.
public final class DisconnectSignal: Sendable {
    private let state = Mutex<(fired: Bool, handlers: [@Sendable () -> Void])>((false, []))

    public init() {}

    /// Runs `handler` when the client disconnects (at once if it already has).
    public func onDisconnect(_ handler: @escaping @Sendable () -> Void) {
        let fireNow = state.withLock { s -> Bool in
            if s.fired { return true }
            s.handlers.append(handler)
            return false
        }
        if fireNow { handler() }
    }

    public var hasFired: Bool { state.withLock { $0.fired } }

    func fire() {
        let handlers = state.withLock { s -> [@Sendable () -> Void] in
            if s.fired { return [] }
            s.fired = true
            defer { s.handlers = [] }
            return s.handlers
        }
        for h in handlers { h() }
    }
}

/// Delivers a request's response exactly once, from any thread, and tells the
/// handler when the client has gone away.
public final class HTTPResponder: Sendable {
    public let disconnect: DisconnectSignal
    private let delivered = Mutex(false)
    private let deliver: @Sendable (HTTPResponse) -> Void

    /// A responder that hands the response to `deliver` (tests and wrappers).
    public init(disconnect: DisconnectSignal = DisconnectSignal(), deliver: @escaping @Sendable (HTTPResponse) -> Void) {
        self.disconnect = disconnect
        self.deliver = deliver
    }

    /// A responder that passes each response through `transform` first, sharing this
    /// one's disconnect signal (for logging and metrics around a handler).
    public func wrapping(_ transform: @escaping @Sendable (HTTPResponse) -> HTTPResponse) -> HTTPResponder {
        HTTPResponder(disconnect: disconnect) { self.respond(transform($0)) }
    }

    /// Sends the response; later calls are ignored.
    public func respond(_ response: HTTPResponse) {
        let first = delivered.withLock { d -> Bool in
            if d { return false }
            d = true
            return true
        }
        if first { deliver(response) }
    }
}

/// What serves requests: called once a request's body has arrived, on a
/// libmicrohttpd thread. It must not block: it validates, answers at once or hands
/// long work elsewhere (the sampling engine), and eventually calls
/// `responder.respond` from any thread; meanwhile the connection is suspended.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest, _ responder: HTTPResponder)
}
