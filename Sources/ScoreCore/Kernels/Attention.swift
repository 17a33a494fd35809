/// The spatial self-attention of diffusers' attention blocks on one channel-major image,
/// once the projections are made: per head h, `A_h = softmax(Q_hᵀ K_h · scale)` over the
/// key positions and `O_h = V_h A_hᵀ`, with Q, K, V, O `[heads·d × P]` and A `[P × P]`.
/// Softmax runs in Float32 with the row maximum subtracted.
public enum Attention {
    /// Writes O (and each head's A into `probabilities`, `[heads × P × P]`, or into one
    /// reused `[P × P]` block when `keepAll` is false).
    public static func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               heads: Int, headDim d: Int, positions p: Int, scale: Float,
                               probabilities: UnsafeMutablePointer<Float>, keepAll: Bool,
                               into o: UnsafeMutablePointer<Float>) {
        for h in 0..<heads {
            let a = probabilities + (keepAll ? h * p * p : 0), off = h * d * p
            BLAS.sgemm(transA: true, transB: false, m: p, n: p, k: d, alpha: scale, a: q + off, lda: p,
                       b: k + off, ldb: p, beta: 0, c: a, ldc: p)
            for i in 0..<p { softmax(a + i * p, count: p) }
            BLAS.sgemm(transA: false, transB: true, m: d, n: p, k: p, alpha: 1, a: v + off, lda: p,
                       b: a, ldb: p, beta: 0, c: o + off, ldc: p)
        }
    }

    /// The tangent dO of `forward` at the point whose Q, K, V and A (all heads) are given,
    /// for tangents dQ, dK, dV; `ds` is `[P × P]` scratch.
    public static func tangent(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               probabilities: UnsafePointer<Float>,
                               dq: UnsafePointer<Float>, dk: UnsafePointer<Float>, dv: UnsafePointer<Float>,
                               heads: Int, headDim d: Int, positions p: Int, scale: Float,
                               ds: UnsafeMutablePointer<Float>, into dout: UnsafeMutablePointer<Float>) {
        for h in 0..<heads {
            let a = probabilities + h * p * p, off = h * d * p
            // dS = scale · (dQᵀ K + Qᵀ dK)
            BLAS.sgemm(transA: true, transB: false, m: p, n: p, k: d, alpha: scale, a: dq + off, lda: p,
                       b: k + off, ldb: p, beta: 0, c: ds, ldc: p)
            BLAS.sgemm(transA: true, transB: false, m: p, n: p, k: d, alpha: scale, a: q + off, lda: p,
                       b: dk + off, ldb: p, beta: 1, c: ds, ldc: p)
            // dA = A ⊙ (dS − Σ_j A dS), row by row.
            for i in 0..<p {
                let row = ds + i * p, ar = a + i * p
                var dot: Float = 0
                for j in 0..<p { dot += ar[j] * row[j] }
                for j in 0..<p { row[j] = ar[j] * (row[j] - dot) }
            }
            // dO = dV Aᵀ + V dAᵀ
            BLAS.sgemm(transA: false, transB: true, m: d, n: p, k: p, alpha: 1, a: dv + off, lda: p,
                       b: a, ldb: p, beta: 0, c: dout + off, ldc: p)
            BLAS.sgemm(transA: false, transB: true, m: d, n: p, k: p, alpha: 1, a: v + off, lda: p,
                       b: ds, ldb: p, beta: 1, c: dout + off, ldc: p)
        }
    }

    /// In place: `x = softmax(x)`.
    @inline(__always)
    static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var m = -Float.infinity
        for j in 0..<count { m = Swift.max(m, x[j]) }
        var sum: Float = 0
        for j in 0..<count {
            let e = VectorMath.exp(x[j] - m)
            x[j] = e
            sum += e
        }
        let inv = 1 / sum
        for j in 0..<count { x[j] *= inv }
    }
}
