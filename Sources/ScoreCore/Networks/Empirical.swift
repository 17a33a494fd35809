import Foundation
import ScoreJSON

/// The exact score of a finite data set, `p_0 = (1/N) Σ_i δ(x_i)`:
///
///     ∇ log p_t(x) = Σ_i softmax_i(−|x − a_t x_i|² / 2σ_t²) · (a_t x_i − x) / σ_t²
///
/// the posterior mean of the conditional scores, i.e. the exact minimiser of
/// denoising score matching on that set. Distances come from one `dgemm` per batch
/// (Float64: the softmax is sharp at small σ_t, where Float32 cancellation would show).
public final class Empirical: ScoreNetwork, @unchecked Sendable {
    // @unchecked Sendable: `points` and `squaredNorms` are written once in init and only read.

    public let sde: SDE
    public let dimension: Int
    /// N, the number of data points.
    public let count: Int
    private let points: UnsafeMutablePointer<Double>      // [N × D], model space
    private let squaredNorms: UnsafeMutablePointer<Double> // [N]

    /// `data` holds N × D model-space coordinates, row-major.
    public init(sde: SDE, dimension: Int, points data: [Double]) {
        precondition(dimension > 0 && !data.isEmpty && data.count % dimension == 0)
        self.sde = sde
        self.dimension = dimension
        count = data.count / dimension
        points = .allocate(capacity: data.count)
        squaredNorms = .allocate(capacity: count)
        data.withUnsafeBufferPointer { points.update(from: $0.baseAddress!, count: data.count) }
        for i in 0..<count {
            var s = 0.0
            for j in 0..<dimension { s += points[i * dimension + j] * points[i * dimension + j] }
            squaredNorms[i] = s
        }
    }

    deinit {
        points.deallocate()
        squaredNorms.deallocate()
    }

    public var typeName: String { "empirical" }
    public var parameterCount: Int { count * dimension }
    public var hyperparameters: [(String, Hyperparameter)] { [("points", .integer(count))] }

    /// The data set (model space), row-major.
    public var data: [Double] { Array(UnsafeBufferPointer(start: points, count: count * dimension)) }

    /// log p_t(x) = logsumexp_i(−|x − a x_i|²/2σ²) − log N − (D/2) log(2πσ²).
    public func logDensity(_ x: [Double], t: Double) -> Double {
        let a = sde.meanCoefficient(t), s = sde.marginalStd(t)
        var logits = [Double](repeating: 0, count: count)
        for i in 0..<count {
            var r2 = 0.0
            for j in 0..<dimension { let r = x[j] - a * points[i * dimension + j]; r2 += r * r }
            logits[i] = -r2 / (2 * s * s)
        }
        let m = logits.max()!
        let lse = m + Foundation.log(logits.reduce(0) { $0 + Foundation.exp($1 - m) })
        return lse - Foundation.log(Double(count)) - 0.5 * Double(dimension) * Foundation.log(2 * Double.pi * s * s)
    }

    private func layout(rows b: Int) -> (x: Int, logits: Int, mean: Int, bytes: Int) {
        let b = BLAS.paddedRows(b)
        var s = ScratchLayout()
        let x = s.reserve(Double.self, b * dimension)
        let logits = s.reserve(Double.self, b * count)
        let mean = s.reserve(Double.self, b * dimension)
        return (x, logits, mean, s.bytes)
    }

    public func workspaceBytes(rows: Int) -> Int { layout(rows: rows).bytes }

    public func score(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows b: Int,
                      into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer) {
        guard b > 0 else { return }
        let (d, n) = (dimension, count)
        let o = layout(rows: b)
        let xd = (scratch + o.x).assumingMemoryBound(to: Double.self)
        let logits = (scratch + o.logits).assumingMemoryBound(to: Double.self)
        let mean = (scratch + o.mean).assumingMemoryBound(to: Double.self)
        let bp = BLAS.paddedRows(b), g = BLAS.rowGroup
        for i in 0..<(b * d) { xd[i] = Double(x[i]) }
        for i in (b * d)..<(bp * d) { xd[i] = 0 }
        // logits[r, i] = x_r · x_i, in calls of a fixed row count (see BLAS.rowGroup).
        for r in stride(from: 0, to: bp, by: g) {
            BLAS.dgemm(transA: false, transB: true, m: g, n: n, k: d, alpha: 1, a: xd + r * d, lda: d,
                       b: points, ldb: d, beta: 0, c: logits + r * n, ldc: n)
        }
        for r in 0..<b {
            let a = sde.meanCoefficient(times[r]), s = sde.marginalStd(times[r])
            let row = logits + r * n
            var x2 = 0.0
            for j in 0..<d { x2 += xd[r * d + j] * xd[r * d + j] }
            var best = -Double.infinity
            for i in 0..<n {
                // −|x − a x_i|² / 2σ² = −(|x|² − 2a x·x_i + a²|x_i|²) / 2σ²
                let v = -(x2 - 2 * a * row[i] + a * a * squaredNorms[i]) / (2 * s * s)
                row[i] = v
                best = Swift.max(best, v)
            }
            var total = 0.0
            for i in 0..<n { row[i] = Foundation.exp(row[i] - best); total += row[i] }
            let inv = 1 / total
            for i in 0..<n { row[i] *= inv }
        }
        for i in (b * n)..<(bp * n) { logits[i] = 0 }
        // mean[r] = Σ_i w_ri x_i
        for r in stride(from: 0, to: bp, by: g) {
            BLAS.dgemm(transA: false, transB: false, m: g, n: d, k: n, alpha: 1, a: logits + r * n, lda: n,
                       b: points, ldb: d, beta: 0, c: mean + r * d, ldc: d)
        }
        for r in 0..<b {
            let a = sde.meanCoefficient(times[r]), s = sde.marginalStd(times[r])
            let inv = 1 / (s * s)
            for j in 0..<d { out[r * d + j] = Float((a * mean[r * d + j] - xd[r * d + j]) * inv) }
        }
    }
}
