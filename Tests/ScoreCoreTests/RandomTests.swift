import Foundation
import Testing
import ScoreCore

@Suite("Counter-based RNG")
struct RandomTests {
    /// Known-answer vectors of Random123 (kat_vectors, "philox4x32 10" lines):
    /// counter, key → output.
    @Test("Philox4x32-10 known-answer vectors")
    func knownAnswers() {
        let cases: [(SIMD4<UInt32>, SIMD2<UInt32>, SIMD4<UInt32>)] = [
            (SIMD4(0, 0, 0, 0), SIMD2(0, 0), SIMD4(0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
            (SIMD4(repeating: 0xffff_ffff), SIMD2(repeating: 0xffff_ffff),
             SIMD4(0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)),
            (SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), SIMD2(0xa409_3822, 0x299f_31d0),
             SIMD4(0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)),
        ]
        for (counter, key, expected) in cases {
            #expect(Philox4x32.block(counter: counter, key: key) == expected)
        }
    }

    private func normals(_ key: NoiseKey, _ n: Int,
                         _ fill: (NoiseKey, UnsafeMutableBufferPointer<Double>) -> Void = Noise.normal) -> [Double] {
        var out = [Double](repeating: .nan, count: n)
        out.withUnsafeMutableBufferPointer { fill(key, $0) }
        return out
    }

    @Test("a draw depends only on (seed, index, step, stream), not on how much is drawn")
    func prefixStable() {
        let key = NoiseKey(seed: 42, index: 7, step: 3, stream: .predictor)
        let long = normals(key, 37)
        for n in [1, 2, 3, 4, 5, 8, 13] {
            #expect(normals(key, n) == Array(long.prefix(n)), "first \(n) of 37")
        }
        // Draws in any order or batch give the same values.
        let keys = (0..<50).map { NoiseKey(seed: 9, index: UInt64($0), step: 11, stream: .corrector(0)) }
        let forward = keys.map { normals($0, 3) }
        let backward = keys.reversed().map { normals($0, 3) }.reversed()
        #expect(forward == Array(backward))
    }

    @Test("different coordinates give different draws")
    func distinctCoordinates() {
        let base = NoiseKey(seed: 1, index: 5, step: 2, stream: .predictor)
        var variants = [base]
        var k = base; k.seed = 2; variants.append(k)
        k = base; k.index = 6; variants.append(k)
        k = base; k.index = 5 + (1 << 32); variants.append(k)
        k = base; k.step = 3; variants.append(k)
        k = base; k.stream = .corrector(0); variants.append(k)
        let draws = variants.map { normals($0, 4) }
        #expect(Set(draws.map { $0.map(\.bitPattern) }).count == variants.count)
        // Float32 draws are the Float64 draws rounded.
        var f = [Float](repeating: 0, count: 4)
        f.withUnsafeMutableBufferPointer { Noise.normal(base, into: $0) }
        #expect(f == draws[0].map { Float($0) })
    }

    @Test("normal, Rademacher and uniform draws have the right moments")
    func moments() {
        // 200,000 draws: the sample mean has standard error 1/√n ≈ 0.0022, the sample
        // variance ≈ √(2/n) ≈ 0.0032; the bounds below are 5 standard errors.
        let n = 200_000
        let z = normals(NoiseKey(seed: 123, index: 0, stream: .auxiliary), n)
        let mean = z.reduce(0, +) / Double(n)
        let variance = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let kurtosis = z.reduce(0) { $0 + pow($1 - mean, 4) } / Double(n) / (variance * variance)
        #expect(abs(mean) < 0.011)
        #expect(abs(variance - 1) < 0.016)
        #expect(abs(kurtosis - 3) < 0.06)  // se ≈ √(24/n) ≈ 0.011
        #expect(z.allSatisfy { $0.isFinite })

        var r = [Double](repeating: 0, count: n)
        r.withUnsafeMutableBufferPointer { Noise.rademacher(NoiseKey(seed: 5, index: 1, stream: .probe), into: $0) }
        #expect(r.allSatisfy { $0 == 1 || $0 == -1 })
        #expect(abs(r.reduce(0, +) / Double(n)) < 0.011)

        var u = [Double](repeating: 0, count: n)
        u.withUnsafeMutableBufferPointer { Noise.uniform(NoiseKey(seed: 5, index: 1, stream: .dequantize), into: $0) }
        #expect(u.allSatisfy { $0 > 0 && $0 < 1 })
        #expect(abs(u.reduce(0, +) / Double(n) - 0.5) < 0.0033)  // se = √(1/12n) ≈ 0.00065
    }

    @Test("stepNormal: normal's draws to a few ulp, the same bits from the 8-block path and the block-at-a-time one")
    func stepNormals() {
        var worst = 0.0
        for step in 0..<300 {
            let key = NoiseKey(seed: 77, index: UInt64(step) * 1_000_003, step: UInt32(step), stream: .predictor)
            // 101 = three 32-value tiles and 5 values a block at a time.
            let fast = normals(key, 101, Noise.stepNormal), reference = normals(key, 101)
            for (a, b) in zip(fast, reference) { worst = max(worst, abs(a - b) / max(1, abs(b))) }
            // Every prefix length ends somewhere else: tile values and remainder values agree.
            for n in [1, 2, 3, 5, 31, 32, 33, 64, 70] {
                #expect(normals(key, n, Noise.stepNormal) == Array(fast.prefix(n)), "first \(n) of 101 at step \(step)")
            }
        }
        #expect(worst < 1e-14, "worst relative difference \(worst)")
    }

    @Test("stepNormals: eight rows' draws at once are each row's stepNormal, bit for bit", arguments: [1, 2, 3, 4])
    func stepNormalsOfRows(dimension d: Int) {
        let key = NoiseKey(seed: 0xDEAD_BEEF_0001, index: 0, step: 917, stream: .predictor)
        let indices = SIMD8<UInt64>(0, 1, 7, 1 << 32, (1 << 53) - 1, 12_345, 99, 100)
        var together = [Double](repeating: .nan, count: 8 * d)
        together.withUnsafeMutableBufferPointer { Noise.stepNormals(key, indices: indices, dimension: d, into: $0.baseAddress!) }
        for l in 0..<8 {
            var k = key
            k.index = indices[l]
            #expect(normals(k, d, Noise.stepNormal).map(\.bitPattern) == together[(l * d)..<((l + 1) * d)].map(\.bitPattern),
                    "row \(l)")
        }
    }
}
