import ScoreCore

/// The buffers of one chunk of trajectories, allocated once per chunk and reused by
/// every step: state in Float64, network input and output in Float32.
final class ChunkState {
    let rows: Int
    let dimension: Int
    let network: any ScoreNetwork
    let workspace: ScoreWorkspace
    /// Trajectory state, [rows × D] (model space).
    let x: UnsafeMutablePointer<Double>
    /// The noise-free mean of the last SDE step, [rows × D].
    let mean: UnsafeMutablePointer<Double>
    /// Network input and output, [rows × D].
    let input: UnsafeMutablePointer<Float>
    let score: UnsafeMutablePointer<Float>
    /// Per-row times, [rows].
    let times: UnsafeMutablePointer<Double>
    /// One row's noise draw, [D].
    let noise: UnsafeMutableBufferPointer<Double>
    /// Network evaluations per row.
    var nfe: [Int]
    /// The job's time grid with its precomputed conditioning, if the network makes one.
    let table: TimeTable?
    /// Table rows per row, [rows].
    private let slots: UnsafeMutablePointer<Int32>

    /// Counts evaluations as they happen.
    private let stats: EngineStats?

    init(network: any ScoreNetwork, rows: Int, tangents: Int = 0, table: TimeTable? = nil, stats: EngineStats? = nil) {
        self.table = table
        self.stats = stats
        slots = .allocate(capacity: rows)
        slots.initialize(repeating: 0, count: rows)
        self.rows = rows
        dimension = network.dimension
        self.network = network
        workspace = ScoreWorkspace(network: network, rows: rows, tangents: tangents)
        let n = rows * dimension
        x = .allocate(capacity: n)
        mean = .allocate(capacity: n)
        input = .allocate(capacity: n)
        score = .allocate(capacity: n)
        times = .allocate(capacity: rows)
        noise = .allocate(capacity: dimension)
        x.initialize(repeating: 0, count: n)
        mean.initialize(repeating: 0, count: n)
        input.initialize(repeating: 0, count: n)
        score.initialize(repeating: 0, count: n)
        times.initialize(repeating: 0, count: rows)
        noise.initialize(repeating: 0)
        nfe = Array(repeating: 0, count: rows)
    }

    deinit {
        x.deallocate(); mean.deallocate(); input.deallocate(); score.deallocate()
        times.deallocate(); noise.deallocate(); slots.deallocate()
    }

    /// Scores of the first `count` rows of `state` at `times`, into `score`.
    @inline(__always)
    func evaluate(_ state: UnsafePointer<Double>, count: Int) {
        let n = count * dimension
        for i in 0..<n { input[i] = Float(state[i]) }
        workspace.score(input, times: times, rows: count, into: score)
        for r in 0..<count { nfe[r] += 1 }
        stats?.evaluated(rows: count)
    }

    /// Scores of the first `count` rows at the grid's time `step` (`table.times[step]`,
    /// the same time in `times` without a table): the same numbers either way.
    @inline(__always)
    func evaluate(_ state: UnsafePointer<Double>, count: Int, gridStep step: Int) {
        guard let table else { return evaluate(state, count: count) }
        let n = count * dimension
        for i in 0..<n { input[i] = Float(state[i]) }
        for r in 0..<count { slots[r] = Int32(step) }
        workspace.score(input, table: table, slots: slots, rows: count, into: score)
        for r in 0..<count { nfe[r] += 1 }
        stats?.evaluated(rows: count)
    }

    /// Draws x(T) from the prior for each row; `index(r)` is row r's global sample index.
    func drawPrior(sde: SDE, seed: UInt64, index: (Int) -> UInt64) {
        for r in 0..<rows {
            sde.samplePrior(seed: seed, index: index(r),
                            into: UnsafeMutableBufferPointer(start: x + r * dimension, count: dimension))
        }
    }

    /// Fails with the first row (as a request-level sample number) holding a non-finite value.
    func checkFinite(_ state: UnsafePointer<Double>, firstSample: Int, what: String) throws(SamplingError) {
        for r in 0..<rows {
            for j in 0..<dimension where !state[r * dimension + j].isFinite {
                throw .nonFinite("\(what) \(firstSample + r) became non-finite (the sampler diverged)")
            }
        }
    }
}
