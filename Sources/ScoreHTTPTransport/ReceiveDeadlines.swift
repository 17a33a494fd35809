import Dispatch
import Foundation
import Synchronization

/// Closes connections that take longer than the deadline to deliver a whole request
/// (headers and body), and idle kept-alive connections after the same time.
///
/// libmicrohttpd's connection timeout counts inactivity, so a client that trickles a
/// byte now and then keeps its connection (and a slot of the connection table) for
/// ever. Here every connection is watched from the moment it opens, or from the end of
/// its last answer, until its request has fully arrived; one still receiving past the
/// deadline has its socket shut down, which libmicrohttpd then sees as a closed
/// connection. Connections whose request is being processed are not watched (work has
/// its own deadline, `timeout_ms`).
final class ReceiveDeadlines: Sendable {
    private struct Entry {
        let fd: Int32
        /// Uptime nanoseconds when the current wait for a request began; nil while the
        /// connection's request is being processed or answered.
        var since: UInt64?
        var shut = false
    }

    /// Keyed by the connection's address. The lock is held while a socket is shut down
    /// and while libmicrohttpd reports a connection closed (before it closes the socket),
    /// so a socket number is never shut after it was reused.
    private let entries = Mutex<[UInt: Entry]>([:])
    private let deadline: UInt64
    private let stopped = Atomic<Bool>(false)
    /// Connections shut down for their deadline so far.
    let closedCount = Atomic<Int>(0)

    /// `seconds` > 0.
    init(seconds: Double) {
        deadline = UInt64(seconds * 1e9)
        let period = max(0.01, min(0.1, seconds / 10))
        Thread.detachNewThread { [self] in
            while !stopped.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: period)
                reap()
            }
        }
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    func opened(_ connection: OpaquePointer, fd: Int32) {
        let now = DispatchTime.now().uptimeNanoseconds
        entries.withLock { $0[key(connection)] = Entry(fd: fd, since: now) }
    }

    func closed(_ connection: OpaquePointer) {
        _ = entries.withLock { $0.removeValue(forKey: key(connection)) }
    }

    /// The connection's request has arrived: no deadline while it is processed.
    func received(_ connection: OpaquePointer) {
        entries.withLock { $0[key(connection)]?.since = nil }
    }

    /// The connection's request is over: the wait for the next one begins.
    func answered(_ connection: OpaquePointer) {
        let now = DispatchTime.now().uptimeNanoseconds
        entries.withLock { $0[key(connection)]?.since = now }
    }

    private func key(_ connection: OpaquePointer) -> UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(connection))) }

    private func reap() {
        let now = DispatchTime.now().uptimeNanoseconds
        entries.withLock { entries in
            for (key, entry) in entries where !entry.shut {
                guard let since = entry.since, now > since, now - since > deadline else { continue }
                // Shutting down (not closing) leaves the socket to libmicrohttpd, which
                // sees the end of the stream and closes the connection itself.
                _ = shutdown(entry.fd, Int32(SHUT_RDWR))
                entries[key]?.shut = true
                closedCount.add(1, ordering: .relaxed)
            }
        }
    }
}
