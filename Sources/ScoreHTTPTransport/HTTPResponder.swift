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
    /// Whether the answer went out, and who watches for it until then.
    private let state = Mutex<(delivered: Bool, observers: [@Sendable (HTTPResponse) -> Void])>((false, []))
    private let deliver: @Sendable (HTTPResponse) -> Void

    /// A responder that hands the response to `deliver` (tests and wrappers).
    public init(disconnect: DisconnectSignal = DisconnectSignal(), deliver: @escaping @Sendable (HTTPResponse) -> Void) {
        self.disconnect = disconnect
        self.deliver = deliver
    }

    /// Runs `observer` with the answer, whoever gives it (the handler, or the
    /// transport refusing the request), just before it is sent: for logging and
    /// metrics around a handler. An observer added after the answer never runs.
    public func onAnswer(_ observer: @escaping @Sendable (HTTPResponse) -> Void) {
        state.withLock { if !$0.delivered { $0.observers.append(observer) } }
    }

    /// Sends the response; later calls are ignored.
    public func respond(_ response: HTTPResponse) {
        let observers = state.withLock { s -> [@Sendable (HTTPResponse) -> Void]? in
            if s.delivered { return nil }
            s.delivered = true
            defer { s.observers = [] }
            return s.observers
        }
        guard let observers else { return }
        // Observers first: whoever sees the answer also sees it counted.
        for observe in observers { observe(response) }
        deliver(response)
    }
}

/// What serves requests: called once a request's body has arrived, on a
/// libmicrohttpd thread. It must not block: it validates, answers at once or hands
/// long work elsewhere (the sampling engine), and eventually calls
/// `responder.respond` from any thread; meanwhile the connection is suspended.
///
/// The transport answers some requests by itself (`HTTPRefusal`), but through the
/// handler, so that every answer has the handler's shape and passes its observers.
public protocol HTTPHandler: Sendable {
    /// Serves a request whose body has arrived.
    func handle(_ request: HTTPRequest, _ responder: HTTPResponder)

    /// Answers a request the transport refuses before `handle` sees it (a body over
    /// the limit; `request.body` is empty). It must answer through `responder` before
    /// it returns, with `refusalResponse(refusal)` or the like.
    func refuse(_ request: HTTPRequest, _ refusal: HTTPRefusal, _ responder: HTTPResponder)

    /// The answer to a refusal. The transport also sends it through the responder of a
    /// request `handle` left unanswered when the server stops, so the observers the
    /// handler put on that responder see it.
    func refusalResponse(_ refusal: HTTPRefusal) -> HTTPResponse
}
