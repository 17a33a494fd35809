import Dispatch
import Foundation
import Synchronization

/// Closes connections that take longer than the deadline to deliver a request's head
/// (counted from the connection's opening or its last answer, so idle kept-alive
/// connections too) or, once the head is in, its body.
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
        /// The socket's identity when the connection opened: the fd is shut down only
        /// while it still names that socket (a number closed behind our back and reused
        /// by another socket of the process is left alone).
        let device: UInt64, inode: UInt64
        /// Uptime nanoseconds when the current wait for a request began; nil while the
        /// connection's request is being processed or answered.
        var since: UInt64?
        var shut = false
    }

    /// Keyed by the connection's address. The lock is held while a socket is shut down
    /// and while libmicrohttpd reports a connection closed (before it closes the socket),
    /// so a socket number is never shut after it was reused.
    private let entries = Mutex<(connections: [UInt: Entry], stopped: Bool)>(([:], false))
    private let deadline: UInt64
    /// Connections shut down for their deadline so far.
    let closedCount = Atomic<Int>(0)

    /// `seconds` > 0.
    init(seconds: Double) {
        deadline = UInt64(Swift.min(seconds, 1e9) * 1e9)  // past 30 years: as good as none
        let period = max(0.01, min(0.1, seconds / 10))
        Thread.detachNewThread { [self] in
            while reap() {
                Thread.sleep(forTimeInterval: period)
            }
        }
    }

    /// Stops watching: no socket is shut down once this returns. Call it before the
    /// daemon stops (it closes its sockets, and their numbers get reused).
    func stop() { entries.withLock { $0 = ([:], true) } }

    func opened(_ connection: OpaquePointer, fd: Int32) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard let (device, inode) = Self.identity(fd) else { return }
        entries.withLock { state in
            if !state.stopped { state.connections[key(connection)] = Entry(fd: fd, device: device, inode: inode, since: now) }
        }
    }

    func closed(_ connection: OpaquePointer) {
        _ = entries.withLock { $0.connections.removeValue(forKey: key(connection)) }
    }

    /// The connection's request has arrived: no deadline while it is processed.
    func received(_ connection: OpaquePointer) {
        entries.withLock { $0.connections[key(connection)]?.since = nil }
    }

    /// The connection's request is over (the wait for the next one begins), or a new
    /// request's head has arrived (its body gets a deadline of its own).
    func restart(_ connection: OpaquePointer) {
        let now = DispatchTime.now().uptimeNanoseconds
        entries.withLock { $0.connections[key(connection)]?.since = now }
    }

    private static func identity(_ fd: Int32) -> (UInt64, UInt64)? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    private func key(_ connection: OpaquePointer) -> UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(connection))) }

    /// Shuts down the sockets past their deadline; false once stopped.
    private func reap() -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        return entries.withLock { state in
            guard !state.stopped else { return false }
            for (key, entry) in state.connections where !entry.shut {
                guard let since = entry.since, now > since, now - since > deadline else { continue }
                guard let (device, inode) = Self.identity(entry.fd), device == entry.device, inode == entry.inode else {
                    state.connections.removeValue(forKey: key)  // not that socket any more
                    continue
                }
                // Shutting down (not closing) leaves the socket to libmicrohttpd, which
                // sees the end of the stream and closes the connection itself.
                _ = shutdown(entry.fd, Int32(SHUT_RDWR))
                state.connections[key]?.shut = true
                closedCount.add(1, ordering: .relaxed)
            }
            return true
        }
    }
}
