import Synchronization

/// A response body written over time (Server-Sent Events): the handler writes pieces
/// from any thread and finishes it; the transport sends each piece as it comes, with
/// chunked transfer encoding, and ends the response once it is finished and sent. While
/// nothing is waiting the connection is suspended, so an idle stream costs no thread.
public final class HTTPStream: Sendable {
    private struct State {
        /// Written and not yet sent: `pending[sent...]`.
        var pending: [UInt8] = []
        var sent = 0
        var finished = false
        /// Called once when something arrives for a transport waiting on an empty stream.
        var waiting: (@Sendable () -> Void)?
        /// Told how the stream ended (the handler's outcome), once.
        var watchers: [@Sendable (HTTPResponse?) -> Void] = []
        var outcome: HTTPResponse?
    }
    private let state = Mutex(State())

    public init() {}

    /// Appends `bytes` to what is sent; ignored after `finish`.
    public func write(_ bytes: [UInt8]) {
        let wake = state.withLock { s -> (@Sendable () -> Void)? in
            guard !s.finished else { return nil }
            s.pending += bytes
            defer { s.waiting = nil }
            return s.waiting
        }
        wake?()
    }

    /// Ends the body once what was written is sent; later calls are ignored. `outcome`
    /// is what the stream amounted to (its status, and the error it reports), for
    /// observers of the answer (`onFinish`).
    public func finish(outcome: HTTPResponse? = nil) {
        let (wake, watchers) = state.withLock { s -> ((@Sendable () -> Void)?, [@Sendable (HTTPResponse?) -> Void]) in
            guard !s.finished else { return (nil, []) }
            s.finished = true
            s.outcome = outcome
            defer { s.waiting = nil; s.watchers = [] }
            return (s.waiting, s.watchers)
        }
        wake?()
        for watch in watchers { watch(outcome) }
    }

    /// Runs `watcher` with the stream's outcome when it finishes (at once if it has).
    public func onFinish(_ watcher: @escaping @Sendable (HTTPResponse?) -> Void) {
        let done = state.withLock { s -> HTTPResponse?? in
            if s.finished { return .some(s.outcome) }
            s.watchers.append(watcher)
            return .none
        }
        if let done { watcher(done) }
    }

    /// What the transport's reader gets.
    enum Read {
        case bytes(Int)
        /// Nothing yet: `wait` has been stored and runs when something arrives.
        case waiting
        case end
    }

    /// Copies up to `max` pending bytes into `buffer`; with none pending and the stream
    /// open, runs `suspend` and stores `wake` (under the stream's lock, so a write cannot
    /// slip between them).
    func read(into buffer: UnsafeMutableRawPointer, max: Int, suspend: () -> Void,
              wake: @escaping @Sendable () -> Void) -> Read {
        state.withLock { s in
            if s.sent < s.pending.count {
                let n = Swift.min(max, s.pending.count - s.sent), from = s.sent
                s.pending.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + from, byteCount: n) }
                s.sent += n
                // Drop what was sent once it is all sent (no shifting of a large event per read).
                if s.sent == s.pending.count { s.pending.removeAll(keepingCapacity: true); s.sent = 0 }
                return .bytes(n)
            }
            if s.finished { return .end }
            suspend()
            s.waiting = wake
            return .waiting
        }
    }
}
