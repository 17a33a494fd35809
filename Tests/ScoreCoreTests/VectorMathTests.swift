import Foundation
import Testing
import ScoreCore

/// The vectorised exp / silu kernels against Float64 references.
@Suite struct VectorMathTests {
    /// Relative error of a Float result against a Float64 truth, in units of Float's epsilon.
    static func ulps(_ got: Float, _ truth: Double) -> Double {
        abs(Double(got) - truth) / (abs(truth) * Double(Float.ulpOfOne))
    }

    @Test("exp is within 3 ulp on [−87, 88], and clamps outside")
    func expAccuracy() {
        var worst = 0.0
        for i in 0..<1_000_000 {
            let x = Float(-87 + 175 * Double(i) / 1_000_000)
            worst = max(worst, Self.ulps(VectorMath.exp(x), Foundation.exp(Double(x))))
        }
        for x: Float in [1e-7, -1e-7, 1e-3, -1e-3, 0.5, -0.5] {
            worst = max(worst, Self.ulps(VectorMath.exp(x), Foundation.exp(Double(x))))
        }
        #expect(worst <= 3, "worst \(worst) ulp")
        let edge = VectorMath.exp(1000)
        #expect(edge.isFinite && edge > 1e38)
        let tiny = VectorMath.exp(-1000)
        #expect(tiny >= 0 && tiny < 1e-37)
        #expect(VectorMath.exp(0) == 1)
    }

    @Test("sinCos matches libm to a few Float64 ulp over |x| ≤ 10⁴, every quadrant and sign")
    func sinCosAccuracy() {
        var worst = 0.0
        for i in 0..<200_000 {
            // Dense near 0 (small features), then out to 10⁴ rad (2π·t·W with large W).
            let u = Double(i) / 200_000
            for x in [u * 8, -u * 8, u * u * 10_000, -u * u * 10_000, Double.pi / 4 * Double(i % 17)] {
                let (s, c) = VectorMath.sinCos(x)
                worst = max(worst, abs(s - Foundation.sin(x)), abs(c - Foundation.cos(x)))
            }
        }
        #expect(worst <= 1e-15, "worst absolute error \(worst)")
        #expect(VectorMath.sinCos(0) == (0, 1))
        let (s, c) = VectorMath.sinCos(1e-300)
        #expect(s == 1e-300 && c == 1)
    }

    @Test("log and squareRoot: within an ulp of libm's on Box–Muller's ranges, every lane alike")
    func logAndSquareRoot() {
        var worstLog = 0.0, worstRoot = 0.0
        for i in 0..<400_000 {
            // The uniforms (w + ½)·2⁻³², dense near 0 and near 1, and a wider range.
            let u = (Double(UInt32(truncatingIfNeeded: i &* 2_654_435_761)) + 0.5) / 4_294_967_296
            for x in [u, 1 - u / 1024, u * 1e-290, 1 + 1e6 * u] {
                let l = VectorMath.log(x), truth = Foundation.log(x)
                worstLog = max(worstLog, abs(l - truth) / truth.magnitude.ulp)
            }
            let a = -2 * Foundation.log(u)
            worstRoot = max(worstRoot, abs(VectorMath.squareRoot(VectorMath.Doubles(repeating: a))[0] - a.squareRoot())
                / a.squareRoot().ulp)
        }
        #expect(worstLog <= 1, "log: worst \(worstLog) ulp")
        #expect(worstRoot <= 1, "squareRoot: worst \(worstRoot) ulp")
        #expect(VectorMath.log(1) == 0)
        let lanes = VectorMath.log(VectorMath.Doubles(0.25, 3, 1e-10, 0.9))
        #expect(lanes == VectorMath.Doubles(VectorMath.log(0.25), VectorMath.log(3), VectorMath.log(1e-10), VectorMath.log(0.9)))
    }

    @Test("fourierFeatures: [sin, cos] of the scaled frequencies, rounded to Float")
    func fourierFeatures() {
        let w: [Float] = [0.5, -3.25, 17, 1e-4, 250]
        var out = [Float](repeating: .nan, count: 2 * w.count)
        let scale = 2 * Double.pi * 0.731
        w.withUnsafeBufferPointer { wp in
            out.withUnsafeMutableBufferPointer {
                VectorMath.fourierFeatures(scale: scale, frequencies: wp.baseAddress!, count: w.count, into: $0.baseAddress!)
            }
        }
        for j in w.indices {
            #expect(out[j] == Float(Foundation.sin(scale * Double(w[j]))), "sin at \(j)")
            #expect(out[w.count + j] == Float(Foundation.cos(scale * Double(w[j]))), "cos at \(j)")
        }
    }

    @Test("silu and its derivative over a row (vector body and remainder)")
    func silu() {
        let n = 37  // not a multiple of any SIMD width: the vectorised body and its remainder loop
        let x = (0..<n).map { Float(-30 + 60 * Double($0) / Double(n - 1)) }
        var u = [Float](repeating: 0, count: n), du = u
        x.withUnsafeBufferPointer { xp in
            u.withUnsafeMutableBufferPointer { up in
                du.withUnsafeMutableBufferPointer { dp in
                    VectorMath.silu(xp.baseAddress!, into: up.baseAddress!, derivative: dp.baseAddress!, count: n)
                }
            }
        }
        for i in 0..<n {
            let z = Double(x[i]), s = 1 / (1 + Foundation.exp(-z))
            #expect(abs(Double(u[i]) - z * s) <= 4e-7 * max(1, abs(z * s)), "silu(\(z))")
            // 1 − σ(z) carries σ's rounding (≤ ε absolutely), multiplied by |z| ≤ 30.
            #expect(abs(Double(du[i]) - s * (1 + z * (1 - s))) <= 2e-6, "silu'(\(z))")
        }
        // silu(−30) is tiny and negative, silu(30) ≈ 30: no overflow or NaN at the ends.
        #expect(u[0] <= 0 && u[0] > -1e-10)
        #expect(abs(u[n - 1] - 30) < 1e-5)
    }
}
