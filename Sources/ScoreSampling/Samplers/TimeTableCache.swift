import ScoreCore
import Synchronization

/// The time tables of recent grids, kept across jobs: requests to the same network on
/// the same grid (sampler, steps, eps) share its precomputed time conditioning, which is
/// as much work as the network itself when each grid time serves one row (a request of
/// n = 1). The values are those a job would build for itself. Bounded by bytes; the least
/// recently used table goes first.
final class TimeTableCache: Sendable {
    private struct Key: Hashable {
        let network: ObjectIdentifier
        let grid: [UInt64]
    }
    private struct Entry {
        let table: SharedTimeTable
        let bytes: Int
        var used: UInt64
    }
    private struct State {
        var entries: [Key: Entry] = [:]
        var clock: UInt64 = 0
        var bytes = 0
    }
    private let state = Mutex(State())
    /// Bytes of tables kept at most.
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// The shared table of `grid` for `network` (made on first use by a job's worker,
    /// like any `SharedTimeTable`); one of `bytes` bytes over the capacity is not kept.
    func table(_ network: any ScoreNetwork, grid: [Double], bytes: Int, maxBytes: Int) -> SharedTimeTable {
        // Networks that make tables are classes; identity keys them (models live as long as the server).
        guard type(of: network) is AnyClass, bytes <= capacity else {
            return SharedTimeTable(network: network, grid: grid, maxBytes: maxBytes)
        }
        let key = Key(network: ObjectIdentifier(network as AnyObject), grid: grid.map(\.bitPattern))
        return state.withLock { s in
            s.clock += 1
            if var hit = s.entries[key] {
                hit.used = s.clock
                s.entries[key] = hit
                return hit.table
            }
            while s.bytes + bytes > capacity, let oldest = s.entries.min(by: { $0.value.used < $1.value.used }) {
                s.bytes -= oldest.value.bytes
                s.entries[oldest.key] = nil
            }
            let made = SharedTimeTable(network: network, grid: grid, maxBytes: maxBytes)
            s.entries[key] = Entry(table: made, bytes: bytes, used: s.clock)
            s.bytes += bytes
            return made
        }
    }
}
