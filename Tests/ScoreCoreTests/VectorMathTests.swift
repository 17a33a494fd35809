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
