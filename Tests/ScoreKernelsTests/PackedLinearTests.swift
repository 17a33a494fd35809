import Testing
import ScoreKernels

/// PackedLinear against a Float64 reference, and a row's bits independent of the rows
/// around it (the property the engine's reproducibility rests on).
@Suite struct PackedLinearTests {
    /// Seeded values in [−1, 1) (a 64-bit LCG; no Foundation needed).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var s = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (0..<count).map { _ in
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: s >> 11) - (1 << 52)) / Float(1 << 52)
        }
    }

    /// C (starting from `c0`) += A Wᵀ for `rows` rows through `apply`, rows `lda` / `ldc` apart.
    static func apply(_ layer: PackedLinear, rows: Int, a: [Float], lda: Int, c0: [Float], ldc: Int) -> [Float] {
        var c = c0
        a.withUnsafeBufferPointer { ap in
            c.withUnsafeMutableBufferPointer { layer.apply(rows: rows, a: ap.baseAddress!, lda: lda, c: $0.baseAddress!, ldc: ldc) }
        }
        return c
    }

    @Test("C += A·Wᵀ within Float32 rounding of a Float64 sum, every shape class",
          arguments: [(1, 2, 128), (4, 128, 128), (7, 128, 2), (9, 16, 64), (6, 256, 70), (3, 5, 17), (13, 64, 200),
                     (5, 64, 15), (8, 256, 1), (4, 12, 3)])
    func matchesFloat64(shape: (rows: Int, inputs: Int, outputs: Int)) {
        let (m, k, n) = shape
        let w = Self.values(n * k, seed: 1), a = Self.values(m * k, seed: 2), c0 = Self.values(m * n, seed: 3)
        let layer = w.withUnsafeBufferPointer { PackedLinear(weight: $0.baseAddress!, outputs: n, inputs: k) }
        #expect(layer.outputs == n && layer.inputs == k)
        let c = Self.apply(layer, rows: m, a: a, lda: k, c0: c0, ldc: n)
        for r in 0..<m {
            for j in 0..<n {
                var sum = Double(c0[r * n + j]), magnitude = abs(sum)
                for i in 0..<k {
                    sum += Double(a[r * k + i]) * Double(w[j * k + i])
                    magnitude += abs(Double(a[r * k + i]) * Double(w[j * k + i]))
                }
                // k roundings of at most ε/2 of the running sum's magnitude each.
                #expect(abs(Double(c[r * n + j]) - sum) <= Double(k + 1) * 6e-8 * magnitude, "row \(r), output \(j)")
            }
        }
    }

    @Test("a row gets the same bits alone, in a block of 4, or after any number of other rows",
          arguments: [40, 3])   // 2 full panels and a tail; a head of 3 outputs (dot products)
    func rowIndependence(n: Int) {
        let (k, m) = (96, 11)   // 2 blocks of 4 and 3 single rows
        let w = Self.values(n * k, seed: 4), a = Self.values(m * k, seed: 5), c0 = Self.values(m * n, seed: 6)
        let layer = w.withUnsafeBufferPointer { PackedLinear(weight: $0.baseAddress!, outputs: n, inputs: k) }
        let together = Self.apply(layer, rows: m, a: a, lda: k, c0: c0, ldc: n)
        for r in 0..<m {
            let alone = Self.apply(layer, rows: 1, a: Array(a[(r * k)..<((r + 1) * k)]), lda: k,
                                   c0: Array(c0[(r * n)..<((r + 1) * n)]), ldc: n)
            #expect(alone.map(\.bitPattern) == together[(r * n)..<((r + 1) * n)].map(\.bitPattern), "row \(r)")
        }
        // Strided rows (lda, ldc wider than the matrices): only the rows' own columns move.
        let lda = k + 3, ldc = n + 5
        var wide = [Float](repeating: 9, count: m * lda), cw = [Float](repeating: 7, count: m * ldc)
        for r in 0..<m {
            for i in 0..<k { wide[r * lda + i] = a[r * k + i] }
            for j in 0..<n { cw[r * ldc + j] = c0[r * n + j] }
        }
        let strided = Self.apply(layer, rows: m, a: wide, lda: lda, c0: cw, ldc: ldc)
        for r in 0..<m {
            #expect(strided[(r * ldc)..<(r * ldc + n)].map(\.bitPattern) == together[(r * n)..<((r + 1) * n)].map(\.bitPattern))
            #expect(strided[(r * ldc + n)..<((r + 1) * ldc)].allSatisfy { $0 == 7 }, "row \(r)'s padding untouched")
        }
    }

    @Test("a weight matrix with rows ldw apart packs as its own columns")
    func strideOfWeights() {
        let (k, n, ldw) = (20, 18, 25)
        let w = Self.values(n * ldw, seed: 7), a = Self.values(4 * k, seed: 8)
        var dense = [Float](repeating: 0, count: n * k)
        for j in 0..<n { for i in 0..<k { dense[j * k + i] = w[j * ldw + i] } }
        let strided = w.withUnsafeBufferPointer { PackedLinear(weight: $0.baseAddress!, outputs: n, inputs: k, ldw: ldw) }
        let packed = dense.withUnsafeBufferPointer { PackedLinear(weight: $0.baseAddress!, outputs: n, inputs: k) }
        let zero = [Float](repeating: 0, count: 4 * n)
        #expect(Self.apply(strided, rows: 4, a: a, lda: k, c0: zero, ldc: n).map(\.bitPattern)
                == Self.apply(packed, rows: 4, a: a, lda: k, c0: zero, ldc: n).map(\.bitPattern))
    }
}
