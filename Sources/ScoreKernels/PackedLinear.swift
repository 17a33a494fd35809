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
/// zero-padded. A layer of fewer than 16 outputs over a multiple of 8 inputs (the score
/// head: D outputs from H) keeps W as it is and computes each output as a dot product
/// (`Microkernels.dot4`, eight partial sums reduced in a fixed order, then added to C):
/// a zero-padded panel would do 16/N times its work (W1's 2-output head cost as much
/// as an eighth of a hidden layer). Rows are still independent: every row's sums are
/// formed the same way in `dot4` and `dot1`. Fast only when built optimised with hardware FMA (the Makefile's
/// builds, for x86-64-v3): unoptimised SIMD code is a hundred times slower, and without
/// FMA instructions each fused multiply-add is a libm call.
// @unchecked Sendable: `panels` is written once in init and only read afterwards.
public final class PackedLinear: @unchecked Sendable {
    /// Outputs (N) and inputs (K).
    public let outputs: Int, inputs: Int
    private let panels: UnsafeMutablePointer<Float>
    private let panelCount: Int
    /// W kept as `[N × K]` for dot products (see the type's doc).
    private let narrow: Bool

    /// Packs `weight` [outputs × inputs] (rows `ldw` apart, default `inputs`).
    public init(weight: UnsafePointer<Float>, outputs: Int, inputs: Int, ldw: Int? = nil) {
        precondition(outputs > 0 && inputs > 0)
        self.outputs = outputs
        self.inputs = inputs
        panelCount = (outputs + 15) / 16
        narrow = outputs < 16 && inputs % 8 == 0
        panels = .allocate(capacity: panelCount * inputs * 16)
        panels.initialize(repeating: 0, count: panelCount * inputs * 16)
        let ldw = ldw ?? inputs
        if narrow {
            for j in 0..<outputs { (panels + j * inputs).update(from: weight + j * ldw, count: inputs) }
            return
        }
        for j in 0..<outputs {
            let panel = panels + (j / 16) * inputs * 16
            for k in 0..<inputs { panel[k * 16 + j % 16] = weight[j * ldw + k] }
        }
    }

    deinit { panels.deallocate() }

    /// `c[r, j] += Σ_k a[r, k] · W[j, k]` for rows `0 ..< rows` (A's rows `lda` apart, C's `ldc`).
    public func apply(rows: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if narrow {
            var r = 0
            while r + 4 <= rows {
                Microkernels.dot4(a + r * lda, lda: lda, panels, k: inputs, outputs: outputs, c + r * ldc, ldc: ldc)
                r += 4
            }
            while r < rows {
                Microkernels.dot1(a + r * lda, panels, k: inputs, outputs: outputs, c + r * ldc)
                r += 1
            }
            return
        }
        let full = outputs / 16, tail = outputs % 16
        var r = 0
        while r + 4 <= rows {
            let ar = a + r * lda, cr = c + r * ldc
            for p in 0..<full { Microkernels.block4x16(ar, lda: lda, panels + p * inputs * 16, k: inputs, cr + p * 16, ldc: ldc, true) }
            if tail > 0 { tail4(ar, lda: lda, cr, ldc: ldc, valid: tail) }
            r += 4
        }
        while r < rows {
            let ar = a + r * lda, cr = c + r * ldc
            var p = 0
            while p + 4 <= full {
                Microkernels.block1x64(ar, panels + p * inputs * 16, k: inputs, cr + p * 16)
                p += 4
            }
            while p < full {
                Microkernels.block1x16(ar, panels + p * inputs * 16, k: inputs, cr + p * 16, true)
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
            Microkernels.block4x16(a, lda: lda, panels + full * inputs * 16, k: inputs, t, ldc: 16, true)
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
            Microkernels.block1x16(a, panels + full * inputs * 16, k: inputs, t, true)
            for l in 0..<valid { c[j + l] = t[l] }
        }
    }

    private var full: Int { outputs / 16 }
}
