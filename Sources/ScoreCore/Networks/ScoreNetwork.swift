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
    /// The network's sizes for model listings (`{"type":"mlp","hidden":256,...}`).
    var summary: JSONObject { get }
    /// Bytes of scratch `score` needs for up to `rows` rows.
    func workspaceBytes(rows: Int) -> Int
    /// Scores of `rows` points `x` ([rows × D], model space) at `times` ([rows]),
    /// written to `out` ([rows × D]). `scratch` holds at least `workspaceBytes(rows:)`
    /// bytes, aligned to 64.
    func score(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows: Int,
               into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer)
}

/// Scratch memory for evaluating a network on up to `rows` rows at once. Owned by
/// one worker at a time (not Sendable), reused across every step.
public final class ScoreWorkspace {
    public let rows: Int
    public let network: any ScoreNetwork
    let scratch: UnsafeMutableRawPointer

    public init(network: any ScoreNetwork, rows: Int) {
        precondition(rows > 0)
        self.rows = rows
        self.network = network
        scratch = .allocate(byteCount: Swift.max(64, network.workspaceBytes(rows: rows)), alignment: 64)
    }

    deinit { scratch.deallocate() }

    /// Evaluates the network; `rows` must not exceed the workspace's capacity.
    @inline(__always)
    public func score(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows n: Int,
                      into out: UnsafeMutablePointer<Float>) {
        precondition(n <= rows, "workspace holds \(rows) rows, asked for \(n)")
        network.score(x, times: times, rows: n, into: out, scratch: scratch)
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
