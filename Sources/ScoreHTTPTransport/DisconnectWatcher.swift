import Foundation
import Synchronization

/// Watches the sockets of suspended connections for a client that hangs up.
///
/// libmicrohttpd does not look at a suspended connection, so a client that goes away
/// while its work runs would go unnoticed until the answer is sent. A thread polls
/// those sockets for POLLRDHUP/POLLHUP every 50 ms and fires their signals.
final class DisconnectWatcher: Sendable {
    /// Linux's POLLRDHUP (peer closed its end), which Glibc exports only under _GNU_SOURCE.
    private static let pollRDHUP: Int16 = 0x2000

    private let watched = Mutex<[Int: (fd: Int32, signal: DisconnectSignal)]>([:])
    private let nextID = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    init() {
        Thread.detachNewThread { [self] in run() }
    }

    /// Starts watching `fd`; returns a key for `remove`.
    func add(fd: Int32, signal: DisconnectSignal) -> Int {
        let id = nextID.add(1, ordering: .relaxed).newValue
        watched.withLock { $0[id] = (fd, signal) }
        return id
    }

    func remove(_ id: Int) { _ = watched.withLock { $0.removeValue(forKey: id) } }

    func stop() { stopped.store(true, ordering: .relaxed) }

    private func run() {
        var fds: [pollfd] = []
        var ids: [Int] = []
        while !stopped.load(ordering: .relaxed) {
            fds.removeAll(keepingCapacity: true)
            ids.removeAll(keepingCapacity: true)
            watched.withLock { entries in
                for (id, entry) in entries {
                    ids.append(id)
                    fds.append(pollfd(fd: entry.fd, events: Self.pollRDHUP, revents: 0))
                }
            }
            if fds.isEmpty { usleep(50_000); continue }
            let ready = poll(&fds, nfds_t(fds.count), 50)
            guard ready > 0 else { continue }
            for (i, p) in fds.enumerated() where p.revents & (Self.pollRDHUP | Int16(POLLHUP | POLLERR | POLLNVAL)) != 0 {
                let entry = watched.withLock { $0.removeValue(forKey: ids[i]) }
                entry?.signal.fire()
            }
            // Entries that fired were removed; the rest are polled again next round.
            usleep(1000)
        }
    }
}
