import ScoreJSON

/// A batched score function `s(x, t) ≈ ∇ₓ log p_t(x)` in model space.
///
/// Rows are independent points, each with its own time. Evaluation writes into
/// caller-owned buffers and scratch, so a sampler's step loop allocates nothing.
public protocol ScoreNetwork: Sendable {
    /// The format's `network.type`.
    var typeName: String { get }
    /// D, coordinates per point.
    var dimension: Int { get }
    /// Number of learned (or configured) parameters.
    var parameterCount: Int { get }
    /// The network's sizes for model listings (`hidden`, `blocks`, ... as the format
    /// names them), in order.
    var hyperparameters: [(String, Hyperparameter)] { get }
    /// Approximate FLOPs of one row's score evaluation, for sizing work so one unit of it
    /// takes about the same time whatever the network.
    var flopsPerRow: Double { get }
    /// Rows the network evaluates together at the least (the row groups of its GEMMs):
    /// chunks of fewer rows would be padded.
    var rowGroup: Int { get }
    /// Rows `score` evaluates best together (a conv U-Net's images share each op's weights
    /// while they are in cache): the sampling engine's chunks hold this many rows when a
    /// request has them, however costly the rows.
    var batchRows: Int { get }
    /// Bytes of scratch `score` needs for up to `rows` rows.
    func workspaceBytes(rows: Int) -> Int
    /// Scores of `rows` points `x` ([rows × D], model space) at `times` ([rows]),
    /// written to `out` ([rows × D]). `scratch` holds at least `workspaceBytes(rows:)`
    /// bytes, aligned to 64.
    func score(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows: Int,
               into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer)

    /// The time conditioning of `times` computed once, for `score(_:table:slots:…)`;
    /// nil when the network has no separable time conditioning (or the table would
    /// hold more than `maxBytes`).
    func timeTable(_ times: [Double], maxBytes: Int) -> TimeTable?
    /// Bytes of a time table of `steps` times; nil when the network makes none.
    func timeTableBytes(steps: Int) -> Int?
    /// Scores as `score(_:times:…)` writes them, row r at time `table.times[slots[r]]`,
    /// its time conditioning read from the table: the same numbers, bit for bit.
    func score(_ x: UnsafePointer<Float>, table: TimeTable, slots: UnsafePointer<Int32>, rows: Int,
               into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer)

    /// Whether `jvp` is available (likelihoods need it).
    var supportsJVP: Bool { get }
    /// Bytes of scratch `jvp` needs for up to `rows` rows with `tangents` vectors each.
    func jvpWorkspaceBytes(rows: Int, tangents: Int) -> Int
    /// Scores, as `score` writes them, and forward-mode Jacobian-vector products
    /// `jv[r, p] = ∂s(x_r, t_r)/∂x · v[r, p]` for `tangents` vectors per row
    /// (`v` and `jv` are [rows × tangents × D]).
    func jvp(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows: Int,
             tangents: Int, v: UnsafePointer<Float>,
             score out: UnsafeMutablePointer<Float>, jv: UnsafeMutablePointer<Float>,
             scratch: UnsafeMutableRawPointer)
}

extension ScoreNetwork {
    /// A dense network's multiply-adds: two FLOPs per parameter and row.
    public var flopsPerRow: Double { 2 * Double(parameterCount) }
    public var rowGroup: Int { BLAS.rowGroup }
    public var batchRows: Int { rowGroup }
    public func timeTable(_ times: [Double], maxBytes: Int) -> TimeTable? { nil }
    public func timeTableBytes(steps: Int) -> Int? { nil }
    public func score(_ x: UnsafePointer<Float>, table: TimeTable, slots: UnsafePointer<Int32>, rows: Int,
                      into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer) {
        preconditionFailure("\(typeName) networks make no time tables")
    }

    public var supportsJVP: Bool { false }
    public func jvpWorkspaceBytes(rows: Int, tangents: Int) -> Int { 0 }
    public func jvp(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows: Int,
                    tangents: Int, v: UnsafePointer<Float>,
                    score out: UnsafeMutablePointer<Float>, jv: UnsafeMutablePointer<Float>,
                    scratch: UnsafeMutableRawPointer) {
        preconditionFailure("\(typeName) networks have no Jacobian-vector product")
    }
}

/// Scratch memory for evaluating a network on up to `rows` rows at once. Owned by
/// one worker at a time (not Sendable), reused across every step.
public final class ScoreWorkspace {
    public let rows: Int
    /// Tangent vectors per row `jvp` can take (0: scores only).
    public let tangents: Int
    public let network: any ScoreNetwork
    let scratch: UnsafeMutableRawPointer

    public init(network: any ScoreNetwork, rows: Int, tangents: Int = 0) {
        precondition(rows > 0 && tangents >= 0)
        precondition(tangents == 0 || network.supportsJVP, "\(network.typeName) has no JVP")
        self.rows = rows
        self.tangents = tangents
        self.network = network
        let bytes = Swift.max(network.workspaceBytes(rows: rows),
                              tangents > 0 ? network.jvpWorkspaceBytes(rows: rows, tangents: tangents) : 0)
        scratch = .allocate(byteCount: Swift.max(64, bytes), alignment: 64)
    }

    /// Scores and Jacobian-vector products (see `ScoreNetwork.jvp`).
    @inline(__always)
    public func jvp(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows n: Int,
                    tangents p: Int, v: UnsafePointer<Float>,
                    score out: UnsafeMutablePointer<Float>, jv: UnsafeMutablePointer<Float>) {
        precondition(n <= rows && p <= tangents, "workspace holds \(rows)×\(tangents), asked for \(n)×\(p)")
        network.jvp(x, times: times, rows: n, tangents: p, v: v, score: out, jv: jv, scratch: scratch)
    }

    deinit { scratch.deallocate() }

    /// Evaluates the network; `rows` must not exceed the workspace's capacity.
    @inline(__always)
    public func score(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows n: Int,
                      into out: UnsafeMutablePointer<Float>) {
        precondition(n <= rows, "workspace holds \(rows) rows, asked for \(n)")
        network.score(x, times: times, rows: n, into: out, scratch: scratch)
    }

    /// Scores with the time conditioning of row r taken from `table` row `slots[r]`.
    @inline(__always)
    public func score(_ x: UnsafePointer<Float>, table: TimeTable, slots: UnsafePointer<Int32>, rows n: Int,
                      into out: UnsafeMutablePointer<Float>) {
        precondition(n <= rows, "workspace holds \(rows) rows, asked for \(n)")
        network.score(x, table: table, slots: slots, rows: n, into: out, scratch: scratch)
    }

    /// Convenience for tests and tools (allocates): scores of `x` ([n × D]) at `times`.
    public func score(_ x: [Float], times: [Double]) -> [Float] {
        let d = network.dimension
        precondition(x.count == times.count * d)
        var out = [Float](repeating: 0, count: x.count)
        var start = 0
        while start < times.count {
            let n = Swift.min(rows, times.count - start)
            x.withUnsafeBufferPointer { xp in
                times.withUnsafeBufferPointer { tp in
                    out.withUnsafeMutableBufferPointer { op in
                        score(xp.baseAddress! + start * d, times: tp.baseAddress! + start, rows: n,
                              into: op.baseAddress! + start * d)
                    }
                }
            }
            start += n
        }
        return out
    }
}

extension UnsafeMutableRawPointer {
    /// The Float region `offset` bytes into a scratch block (an offset `ScratchLayout` gave).
    @inline(__always)
    func floats(at offset: Int) -> UnsafeMutablePointer<Float> {
        (self + offset).assumingMemoryBound(to: Float.self)
    }
}

/// Carves typed, 64-byte-aligned regions out of a scratch block.
struct ScratchLayout {
    private(set) var bytes = 0

    /// Reserves `count` elements of `T` and returns their byte offset.
    mutating func reserve<T>(_ type: T.Type, _ count: Int) -> Int {
        let offset = bytes
        bytes += (count * MemoryLayout<T>.stride + 63) / 64 * 64
        return offset
    }
}
