import ScoreCore
import Synchronization

/// A job's time table, built by whichever chunk needs it first (the others wait for it).
final class SharedTimeTable: Sendable {
    private let network: any ScoreNetwork
    private let grid: [Double]
    private let maxBytes: Int
    private let built = Mutex<TimeTable??>(nil)

    init(network: any ScoreNetwork, grid: [Double], maxBytes: Int) {
        self.network = network
        self.grid = grid
        self.maxBytes = maxBytes
    }

    /// The table (nil if the network declined to make it).
    var value: TimeTable? {
        built.withLock { table in
            if let table { return table }
            let made = network.timeTable(grid, maxBytes: maxBytes)
            table = .some(made)
            return made
        }
    }
}
