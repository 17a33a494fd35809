import Testing
import ScoreKernels

/// GEMM.nn against a Float64 reference, and a column's bits independent of the call's
/// width and of its place in it (the property that lets several images share a call).
@Suite struct GEMMTests {
    static func values(_ count: Int, seed: UInt64) -> [Float] { PackedLinearTests.values(count, seed: seed) }

    static func nn(m: Int, n: Int, k: Int, a: [Float], b: [Float], ldb: Int, c0: [Float], accumulate: Bool) -> [Float] {
        var c = c0
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer {
                    GEMM.nn(m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: ldb,
                            c: $0.baseAddress!, ldc: n, accumulate: accumulate)
                }
            }
        }
        return c
    }

    @Test("C = A·B and C += A·B within Float32 rounding of a Float64 sum, every block shape",
          arguments: [(4, 16, 8), (13, 41, 64), (1, 1, 3), (9, 25, 256), (8, 8, 5), (64, 64, 128)])
    func matchesFloat64(shape: (m: Int, n: Int, k: Int)) {
        let (m, n, k) = shape
        let a = Self.values(m * k, seed: 11), b = Self.values(k * n, seed: 12), c0 = Self.values(m * n, seed: 13)
        for accumulate in [false, true] {
            let c = Self.nn(m: m, n: n, k: k, a: a, b: b, ldb: n, c0: c0, accumulate: accumulate)
            for r in 0..<m {
                for j in 0..<n {
                    var sum = accumulate ? Double(c0[r * n + j]) : 0, magnitude = abs(sum)
                    for q in 0..<k {
                        let p = Double(a[r * k + q]) * Double(b[q * n + j])
                        sum += p
                        magnitude += abs(p)
                    }
                    #expect(abs(Double(c[r * n + j]) - sum) <= Double(k + 1) * 6e-8 * magnitude, "(\(r), \(j))")
                }
            }
        }
    }

    @Test("a column's bits do not depend on the call's width or its place in it")
    func columnIndependence() {
        let (m, k, n) = (12, 70, 16)   // one image's 16 columns; calls of 1 to 5 images
        let a = Self.values(m * k, seed: 14)
        for images in 1...5 {
            let wide = images * n + images % 3 * 5   // and odd widths: the 8-wide and single-column tails
            let b = Self.values(k * wide, seed: UInt64(15 + images))
            let together = Self.nn(m: m, n: wide, k: k, a: a, b: b, ldb: wide,
                                   c0: [Float](repeating: 0, count: m * wide), accumulate: false)
            for j in 0..<wide {
                // Column j alone: a call one column wide, reading B in place (ldb = the wide width).
                let alone = Self.nn(m: m, n: 1, k: k, a: a, b: Array(b[j...]), ldb: wide,
                                    c0: [Float](repeating: 0, count: m), accumulate: false)
                #expect(alone.map(\.bitPattern) == (0..<m).map { together[$0 * wide + j].bitPattern }, "column \(j) of \(wide)")
            }
        }
    }
}
