/// Row-major `C = A · B` (or `C += A · B`) for the image networks' convolutions: A is
/// a weight matrix [M × K], B a matrix of columns [K × N] (Winograd's transformed tiles,
/// im2col's patches), N small (one band of one image, or a few images).
///
/// Every output is one chain of fused multiply-adds over k in order, started from 0 or
/// from C's value, in every kernel (6 or 4 rows × 16 columns, 1 row × 16, 8 rows × 8, 1 × 8,
/// and single columns): a column's numbers do not depend on the other columns of the
/// call, nor a row's on the other rows. Columns outer: each 16-column panel of B is
/// copied once into a contiguous `[K × 16]` block on the stack (rows of B `ldb` apart
/// would share a few L1 sets) and stays in L1 while every row block of A passes.
public enum GEMM {
    /// `C[m × n] = A[m × k] · B[k × n]` (`accumulate`: `C +=`), row-major with leading
    /// dimensions `lda`, `ldb`, `ldc`.
    public static func nn(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                          b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                          accumulate: Bool) {
        guard m > 0, n > 0 else { return }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: k * 16) { block in
            let panel = block.baseAddress!
            var j = 0
            while j + 16 <= n {
                sweep(m: m, k: k, a: a, lda: lda, b: b + j, ldb: ldb, width: 16, panel: panel, c: c + j, ldc: ldc,
                      tallest: 6, widest: Microkernels.block6x16, tall: 4, block: Microkernels.block4x16,
                      single: Microkernels.block1x16, accumulate)
                j += 16
            }
            if j + 8 <= n {
                sweep(m: m, k: k, a: a, lda: lda, b: b + j, ldb: ldb, width: 8, panel: panel, c: c + j, ldc: ldc,
                      tallest: 8, widest: Microkernels.block8x8, tall: 8, block: Microkernels.block8x8,
                      single: Microkernels.block1x8, accumulate)
                j += 8
            }
            while j < n {
                for r in 0..<m {
                    let ar = a + r * lda
                    var s: Float = accumulate ? c[r * ldc + j] : 0
                    for q in 0..<k { s = s.addingProduct(ar[q], b[q * ldb + j]) }
                    c[r * ldc + j] = s
                }
                j += 1
            }
        }
    }

    typealias Block = (UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int, Bool) -> Void

    /// One panel of `width` columns: packed, then every row block of A (`tallest` rows at a
    /// time through `widest`, then `tall` through `block`, the rest one by one through
    /// `single`).
    @inline(__always)
    private static func sweep(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                              width: Int, panel: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
                              tallest: Int, widest: Block, tall: Int, block: Block,
                              single: (UnsafePointer<Float>, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Bool) -> Void,
                              _ accumulate: Bool) {
        for q in 0..<k { (panel + q * width).update(from: b + q * ldb, count: width) }
        var r = 0
        while r + tallest <= m {
            widest(a + r * lda, lda, panel, k, c + r * ldc, ldc, accumulate)
            r += tallest
        }
        while r + tall <= m {
            block(a + r * lda, lda, panel, k, c + r * ldc, ldc, accumulate)
            r += tall
        }
        while r < m {
            single(a + r * lda, panel, k, c + r * ldc, accumulate)
            r += 1
        }
    }
}
