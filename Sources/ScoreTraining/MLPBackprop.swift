import Foundation
import ScoreCore

/// Forward and hand-written backward pass of the residual MLP for a fixed number of
/// rows, with every activation the backward pass needs kept in buffers allocated once.
///
/// The loss is `weight · Σ_r Σ_d (o_rd − y_rd)²` where `o = proj_out(silu(h))` is the
/// network's output before the division by σ_t (so σ_t·s_θ = o) and `y` a target:
/// `y = −z` gives denoising score matching, `y = σ_t ∇log p_t(x)` explicit score matching.
public final class MLPBackprop {
    public let layout: MLPLayout
    public let rows: Int
    private let phi, a0, e, tau, hs, zs, us, v, o, dO, dv, dh, du, dz, de: UnsafeMutablePointer<Float>

    public init(layout: MLPLayout, rows: Int) {
        self.layout = layout
        self.rows = rows
        let (d, h, l, eDim) = (layout.dimension, layout.hidden, layout.blocks, layout.embedDim)
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
            p.initialize(repeating: 0, count: max(1, n))
            return p
        }
        phi = buffer(rows * eDim); a0 = buffer(rows * eDim); e = buffer(rows * eDim)
        tau = buffer(rows * l * h)
        hs = buffer((l + 1) * rows * h); zs = buffer(l * rows * h); us = buffer(l * rows * h)
        v = buffer(rows * h); o = buffer(rows * d); dO = buffer(rows * d)
        dv = buffer(rows * h); dh = buffer(rows * h); du = buffer(rows * h); dz = buffer(rows * h)
        de = buffer(rows * eDim)
    }

    deinit {
        for p in [phi, a0, e, tau, hs, zs, us, v, o, dO, dv, dh, du, dz, de] { p.deallocate() }
    }

    /// The network output o ([rows × D], σ_t·s_θ) of the last `forward`.
    public var output: UnsafePointer<Float> { UnsafePointer(o) }

    /// The forward pass over all `rows` rows (x: [rows × D] model space, times: [rows]).
    public func forward(_ p: UnsafePointer<Float>, x: UnsafePointer<Float>, times: UnsafePointer<Double>) {
        let L = layout
        let (b, d, h, l, eDim) = (rows, L.dimension, L.hidden, L.blocks, L.embedDim)
        let half = eDim / 2
        for r in 0..<b {
            let twoPiT = 2 * Double.pi * times[r]
            for j in 0..<half {
                let arg = twoPiT * Double(p[L.fourier + j])
                phi[r * eDim + j] = Float(Foundation.sin(arg))
                phi[r * eDim + half + j] = Float(Foundation.cos(arg))
            }
        }
        Elementwise.broadcastRows(p + L.embedB, rows: b, columns: eDim, into: a0)
        BLAS.linear(m: b, n: eDim, k: eDim, a: phi, weight: p + L.embedW, beta: 1, c: a0)
        Elementwise.silu(a0, into: e, count: b * eDim)
        Elementwise.broadcastRows(p + L.tembB, rows: b, columns: l * h, into: tau)
        for i in 0..<l {
            BLAS.linear(m: b, n: h, k: eDim, a: e, weight: p + L.tembW + i * h * eDim, beta: 1, c: tau + i * h, ldc: l * h)
        }
        Elementwise.broadcastRows(p + L.inB, rows: b, columns: h, into: hs)
        BLAS.linear(m: b, n: h, k: d, a: x, weight: p + L.inW, beta: 1, c: hs)
        for i in 0..<l {
            let hi = hs + i * b * h, hn = hs + (i + 1) * b * h, zi = zs + i * b * h, ui = us + i * b * h
            for r in 0..<b {
                for j in 0..<h {
                    let z = hi[r * h + j] + tau[r * l * h + i * h + j]
                    zi[r * h + j] = z
                    ui[r * h + j] = Elementwise.silu(z)
                    hn[r * h + j] = hi[r * h + j] + p[L.denseB + i * h + j]
                }
            }
            BLAS.linear(m: b, n: h, k: h, a: ui, weight: p + L.denseW + i * h * h, beta: 1, c: hn)
        }
        Elementwise.silu(hs + l * b * h, into: v, count: b * h)
        Elementwise.broadcastRows(p + L.outB, rows: b, columns: d, into: o)
        BLAS.linear(m: b, n: d, k: h, a: v, weight: p + L.outW, beta: 1, c: o)
    }

    /// Forward, loss and its gradient, added to `grad` (same layout as `p`). Rows at or
    /// past `used` are padding: they add nothing.
    public func lossAndGradient(_ p: UnsafePointer<Float>, x: UnsafePointer<Float>, times: UnsafePointer<Double>,
                         target: UnsafePointer<Float>, used: Int, weight: Float,
                         grad g: UnsafeMutablePointer<Float>) -> Double {
        forward(p, x: x, times: times)
        var loss = 0.0
        for r in 0..<rows {
            for j in 0..<layout.dimension {
                let i = r * layout.dimension + j
                guard r < used else { dO[i] = 0; continue }
                let diff = o[i] - target[i]
                loss += Double(diff) * Double(diff)
                dO[i] = 2 * weight * diff
            }
        }
        backward(p, x: x, dOutput: dO, grad: g)
        return loss * Double(weight)
    }

    /// Adds ∂(Σ dOutput ⊙ o)/∂θ to `grad`: the backward pass of the last `forward`,
    /// which must have run on the same `x`.
    public func backward(_ p: UnsafePointer<Float>, x: UnsafePointer<Float>, dOutput dO: UnsafePointer<Float>,
                         grad g: UnsafeMutablePointer<Float>) {
        let L = layout
        let (b, d, h, l, eDim) = (rows, L.dimension, L.hidden, L.blocks, L.embedDim)
        // proj_out
        BLAS.sgemm(transA: true, transB: false, m: d, n: h, k: b, alpha: 1, a: dO, lda: d, b: v, ldb: h,
                   beta: 1, c: g + L.outW, ldc: h)
        Self.addColumnSums(dO, rows: b, columns: d, into: g + L.outB)
        BLAS.sgemm(transA: false, transB: false, m: b, n: h, k: d, alpha: 1, a: dO, lda: d, b: p + L.outW, ldb: h,
                   beta: 0, c: dv, ldc: h)
        let hl = hs + l * b * h
        for i in 0..<(b * h) { dh[i] = dv[i] * Elementwise.siluDerivative(hl[i]) }
        de.update(repeating: 0, count: b * eDim)
        for i in stride(from: l - 1, through: 0, by: -1) {
            let zi = zs + i * b * h, ui = us + i * b * h
            // h_{i+1} = h_i + u_i W_dᵀ + b_d
            BLAS.sgemm(transA: true, transB: false, m: h, n: h, k: b, alpha: 1, a: dh, lda: h, b: ui, ldb: h,
                       beta: 1, c: g + L.denseW + i * h * h, ldc: h)
            Self.addColumnSums(dh, rows: b, columns: h, into: g + L.denseB + i * h)
            BLAS.sgemm(transA: false, transB: false, m: b, n: h, k: h, alpha: 1, a: dh, lda: h,
                       b: p + L.denseW + i * h * h, ldb: h, beta: 0, c: du, ldc: h)
            for k in 0..<(b * h) { dz[k] = du[k] * Elementwise.siluDerivative(zi[k]) }
            // z_i = h_i + τ_i, τ_i = e W_tᵀ + b_t
            BLAS.sgemm(transA: true, transB: false, m: h, n: eDim, k: b, alpha: 1, a: dz, lda: h, b: e, ldb: eDim,
                       beta: 1, c: g + L.tembW + i * h * eDim, ldc: eDim)
            Self.addColumnSums(dz, rows: b, columns: h, into: g + L.tembB + i * h)
            BLAS.sgemm(transA: false, transB: false, m: b, n: eDim, k: h, alpha: 1, a: dz, lda: h,
                       b: p + L.tembW + i * h * eDim, ldb: eDim, beta: 1, c: de, ldc: eDim)
            for k in 0..<(b * h) { dh[k] += dz[k] }
        }
        // h_0 = x W_inᵀ + b_in
        BLAS.sgemm(transA: true, transB: false, m: h, n: d, k: b, alpha: 1, a: dh, lda: h, b: x, ldb: d,
                   beta: 1, c: g + L.inW, ldc: d)
        Self.addColumnSums(dh, rows: b, columns: h, into: g + L.inB)
        // e = silu(φ W_1ᵀ + b_1); the Fourier frequencies stay fixed.
        for k in 0..<(b * eDim) { de[k] *= Elementwise.siluDerivative(a0[k]) }
        BLAS.sgemm(transA: true, transB: false, m: eDim, n: eDim, k: b, alpha: 1, a: de, lda: eDim, b: phi, ldb: eDim,
                   beta: 1, c: g + L.embedW, ldc: eDim)
        Self.addColumnSums(de, rows: b, columns: eDim, into: g + L.embedB)
    }

    private static func addColumnSums(_ m: UnsafePointer<Float>, rows: Int, columns: Int,
                                      into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { for c in 0..<columns { out[c] += m[r * columns + c] } }
    }
}
