import Testing
import ScoreCore

/// The determinism of GEMM calls that hold several images' columns rests on
/// `BLAS.columnsIndependent`: checked here against the OpenBLAS this machine runs.
@Suite("OpenBLAS column independence")
struct BLASColumnsTests {
    /// (m, n, k) of one image's call: U-Net convolution shapes just past the threshold and
    /// well past it, with odd column counts.
    static let shapes = [(256, 16, 256), (256, 16, 512), (128, 49, 256), (64, 100, 192), (512, 4, 1024)]

    @Test("past M·N·K = 10⁶, a column's bits do not depend on the call's width or its place in it", arguments: shapes)
    func independent(_ shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        #expect(BLAS.columnsIndependent(m: m, n: n, k: k))
        var g = SplitMix64(seed: UInt64(m * n + k))
        func uniform() -> Float { Float(Double(g.next() >> 11) / Double(1 << 53)) - 0.5 }
        let a = (0..<(m * k)).map { _ in uniform() }
        for images in 2...5 {
            let wide = images * n
            let b = (0..<(k * wide)).map { _ in uniform() }
            var together = [Float](repeating: 0, count: m * wide)
            BLAS.sgemm(transA: false, transB: false, m: m, n: wide, k: k, alpha: 1, a: a, lda: k, b: b, ldb: wide,
                       beta: 0, c: &together, ldc: wide)
            for j in 0..<images {
                var part = [Float]()
                for row in 0..<k {
                    let start: Int = row * wide + j * n
                    part += b[start..<(start + n)]
                }
                var alone = [Float](repeating: 0, count: m * n)
                BLAS.sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: part, ldb: n,
                           beta: 0, c: &alone, ldc: n)
                let same = (0..<m).allSatisfy { row in
                    (0..<n).allSatisfy { alone[row * n + $0].bitPattern == together[row * wide + j * n + $0].bitPattern }
                }
                #expect(same, "\(m)×\(n)·\(k): image \(j) of \(images)")
            }
        }
    }
}
