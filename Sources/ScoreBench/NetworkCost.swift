import ScoreCore

/// The floating-point work of a network's evaluations: 2 FLOPs per multiply-add of
/// its GEMMs (element-wise passes are not counted; they are the overhead to remove).
public struct NetworkCost: Sendable {
    /// The x-dependent layers of one row: proj_in, each block's dense, proj_out.
    public let perRow: Double
    /// The time embedding of one distinct t: embed.1 and the L time projections.
    public let perTime: Double
    /// One tangent of a JVP: the x-dependent layers again.
    public var perTangent: Double { perRow }
    /// The x path's GEMM shapes (N outputs, K inputs), the roofline's workload.
    public let shapes: [GEMMShape]

    /// The cost of an `mlp` network; nil for networks without GEMMs.
    public init?(_ network: any ScoreNetwork) {
        guard let m = network as? MLP else { return nil }
        let (d, h, l, e) = (Double(m.dimension), Double(m.hidden), Double(m.blocks), Double(m.embedDim))
        perRow = 2 * (d * h + l * h * h + h * d)
        perTime = 2 * (e * e + l * h * e)
        shapes = [GEMMShape(n: m.hidden, k: m.dimension)]
            + Array(repeating: GEMMShape(n: m.hidden, k: m.hidden), count: m.blocks)
            + [GEMMShape(n: m.dimension, k: m.hidden)]
    }
}

/// `C[m×n] += A[m×k] · Wᵀ` with W stored [n×k], as a linear layer issues it.
public struct GEMMShape: Sendable, Hashable {
    public let n: Int
    public let k: Int
    public init(n: Int, k: Int) { self.n = n; self.k = k }
    public func flops(rows: Int) -> Double { 2 * Double(rows * n * k) }
}
