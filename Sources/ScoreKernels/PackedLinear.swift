/// A linear layer's weight, packed once for `apply`: `C += A · Wᵀ` for the small-row
/// GEMMs of the MLP networks (4…256 rows against 2…512 features).
///
/// Why not OpenBLAS: a row's numbers must not depend on how many rows share a call
/// (see docs/samplers.md, "Reproducibility"), so OpenBLAS was called on 4 rows at a time,
/// where its small-matrix kernel reached 88% of its 256-row rate at K = N = 128 and
/// packed nothing ahead. Here every output is one chain of fused multiply-adds over k in
/// order, started from C's value, in every kernel: 4 rows × 16 columns in registers (8
/// accumulators of 8 lanes), or 1 row × 64 / × 16 for what is left, so a row gets the
/// same bits alone or among any others, and no rows are padded. Measured on one Zen 4
/// core at K = N = 128: 106 GFLOP/s, against OpenBLAS's 88 on 4-row calls and 100 on
/// 256-row ones (`scoreserve bench --only kernels`).
///
/// Layout: W is `[N × K]` row-major (PyTorch's `nn.Linear.weight`); packed, each panel of
/// 16 outputs is `[K × 16]` (its 16 weights of input k side by side), the last panel
/// zero-padded. This module is compiled with optimisation and FMA in every build (see
/// Package.swift): unoptimised SIMD code would be a hundred times slower.
// @unchecked Sendable: `panels` is written once in init and only read afterwards.
public final class PackedLinear: @unchecked Sendable {
    /// Outputs (N) and inputs (K).
    public let outputs: Int, inputs: Int
    private let panels: UnsafeMutablePointer<Float>
    private let panelCount: Int

    /// Packs `weight` [outputs × inputs] (rows `ldw` apart, default `inputs`).
    public init(weight: UnsafePointer<Float>, outputs: Int, inputs: Int, ldw: Int? = nil) {
        precondition(outputs > 0 && inputs > 0)
        self.outputs = outputs
        self.inputs = inputs
        panelCount = (outputs + 15) / 16
        panels = .allocate(capacity: panelCount * inputs * 16)
        panels.initialize(repeating: 0, count: panelCount * inputs * 16)
        let ldw = ldw ?? inputs
        for j in 0..<outputs {
            let panel = panels + (j / 16) * inputs * 16
            for k in 0..<inputs { panel[k * 16 + j % 16] = weight[j * ldw + k] }
        }
    }

    deinit { panels.deallocate() }

    /// `c[r, j] += Σ_k a[r, k] · W[j, k]` for rows `0 ..< rows` (A's rows `lda` apart, C's `ldc`).
    public func apply(rows: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let full = outputs / 16, tail = outputs % 16
        var r = 0
        while r + 4 <= rows {
            let ar = a + r * lda, cr = c + r * ldc
            for p in 0..<full { Self.kernel4x16(ar, lda: lda, panels + p * inputs * 16, k: inputs, cr + p * 16, ldc: ldc) }
            if tail > 0 { tail4(ar, lda: lda, cr, ldc: ldc, valid: tail) }
            r += 4
        }
        while r < rows {
            let ar = a + r * lda, cr = c + r * ldc
            var p = 0
            while p + 4 <= full {
                Self.kernel1x64(ar, panels + p * inputs * 16, k: inputs, cr + p * 16)
                p += 4
            }
            while p < full {
                Self.kernel1x16(ar, panels + p * inputs * 16, k: inputs, cr + p * 16)
                p += 1
            }
            if tail > 0 { tail1(ar, cr, valid: tail) }
            r += 1
        }
    }

    /// The zero-padded last panel for 4 rows, through a 4 × 16 block on the stack.
    private func tail4(_ a: UnsafePointer<Float>, lda: Int, _ c: UnsafeMutablePointer<Float>, ldc: Int, valid: Int) {
        let j = full * 16
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { block in
            let t = block.baseAddress!
            t.initialize(repeating: 0, count: 64)
            for r in 0..<4 { for l in 0..<valid { t[r * 16 + l] = c[r * ldc + j + l] } }
            Self.kernel4x16(a, lda: lda, panels + full * inputs * 16, k: inputs, t, ldc: 16)
            for r in 0..<4 { for l in 0..<valid { c[r * ldc + j + l] = t[r * 16 + l] } }
        }
    }

    /// The zero-padded last panel for one row.
    private func tail1(_ a: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, valid: Int) {
        let j = full * 16
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { block in
            let t = block.baseAddress!
            t.initialize(repeating: 0, count: 16)
            for l in 0..<valid { t[l] = c[j + l] }
            Self.kernel1x16(a, panels + full * inputs * 16, k: inputs, t)
            for l in 0..<valid { c[j + l] = t[l] }
        }
    }

    private var full: Int { outputs / 16 }

    // MARK: Kernels. Every output: acc = c; for k in order: acc = fma(a[k], w[k], acc).

    @inline(__always)
    private static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    private static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    private static func kernel4x16(_ a: UnsafePointer<Float>, lda: Int, _ w: UnsafePointer<Float>, k: Int,
                                   _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        let c0 = c, c1 = c + ldc, c2 = c + 2 * ldc, c3 = c + 3 * ldc
        var s00 = load(c0), s01 = load(c0 + 8), s10 = load(c1), s11 = load(c1 + 8)
        var s20 = load(c2), s21 = load(c2 + 8), s30 = load(c3), s31 = load(c3 + 8)
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        for i in 0..<k {
            let w0 = load(w + i * 16), w1 = load(w + i * 16 + 8)
            let b0 = SIMD8<Float>(repeating: a0[i]), b1 = SIMD8<Float>(repeating: a1[i])
            let b2 = SIMD8<Float>(repeating: a2[i]), b3 = SIMD8<Float>(repeating: a3[i])
            s00 = s00.addingProduct(b0, w0); s01 = s01.addingProduct(b0, w1)
            s10 = s10.addingProduct(b1, w0); s11 = s11.addingProduct(b1, w1)
            s20 = s20.addingProduct(b2, w0); s21 = s21.addingProduct(b2, w1)
            s30 = s30.addingProduct(b3, w0); s31 = s31.addingProduct(b3, w1)
        }
        store(s00, c0); store(s01, c0 + 8); store(s10, c1); store(s11, c1 + 8)
        store(s20, c2); store(s21, c2 + 8); store(s30, c3); store(s31, c3 + 8)
    }

    /// One row against four consecutive panels (64 outputs): eight independent chains.
    private static func kernel1x64(_ a: UnsafePointer<Float>, _ w: UnsafePointer<Float>, k: Int,
                                   _ c: UnsafeMutablePointer<Float>) {
        let stride = k * 16
        var s0 = load(c), s1 = load(c + 8), s2 = load(c + 16), s3 = load(c + 24)
        var s4 = load(c + 32), s5 = load(c + 40), s6 = load(c + 48), s7 = load(c + 56)
        for i in 0..<k {
            let b = SIMD8<Float>(repeating: a[i])
            let p = w + i * 16
            s0 = s0.addingProduct(b, load(p)); s1 = s1.addingProduct(b, load(p + 8))
            s2 = s2.addingProduct(b, load(p + stride)); s3 = s3.addingProduct(b, load(p + stride + 8))
            s4 = s4.addingProduct(b, load(p + 2 * stride)); s5 = s5.addingProduct(b, load(p + 2 * stride + 8))
            s6 = s6.addingProduct(b, load(p + 3 * stride)); s7 = s7.addingProduct(b, load(p + 3 * stride + 8))
        }
        store(s0, c); store(s1, c + 8); store(s2, c + 16); store(s3, c + 24)
        store(s4, c + 32); store(s5, c + 40); store(s6, c + 48); store(s7, c + 56)
    }

    private static func kernel1x16(_ a: UnsafePointer<Float>, _ w: UnsafePointer<Float>, k: Int,
                                   _ c: UnsafeMutablePointer<Float>) {
        var s0 = load(c), s1 = load(c + 8)
        for i in 0..<k {
            let b = SIMD8<Float>(repeating: a[i])
            s0 = s0.addingProduct(b, load(w + i * 16)); s1 = s1.addingProduct(b, load(w + i * 16 + 8))
        }
        store(s0, c); store(s1, c + 8)
    }
}
