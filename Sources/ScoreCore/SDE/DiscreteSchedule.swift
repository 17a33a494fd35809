import Foundation

/// A DDPM noise schedule of N training steps as a continuous-time VP SDE, the way
/// DPM-Solver's `NoiseScheduleVP('discrete')` reads it: step n sits at t_n = (n + 1)/N,
/// log α(t) is piecewise linear in t through (t_n, ½ log ᾱ_n), σ(t) = √(1 − α(t)²) and
/// β(t) = −2 d log α/dt. Below t_0 = 1/N, where DPM-Solver extrapolates (and α can pass
/// 1), the line runs to log α(0) = 0 instead: ᾱ₋₁ = 1, as in DDPM. ᾱ is a Float64
/// product.
public struct DiscreteSchedule: Sendable, Equatable {
    /// ½ log ᾱ_n for n = 0 ..< N.
    public let logAlpha: [Double]

    /// N, the training steps.
    public var steps: Int { logAlpha.count }

    /// The schedule of `betas` (each in (0, 1)).
    public init(betas: [Double]) {
        precondition(!betas.isEmpty && betas.allSatisfy { $0 > 0 && $0 < 1 })
        var sum = 0.0
        logAlpha = betas.map { beta in
            sum += Foundation.log1p(-beta)
            return sum / 2
        }
    }

    /// DDPM's schedule names, as diffusers' schedulers spell them.
    public enum BetaSchedule: String, Sendable, CaseIterable {
        case linear
        case scaledLinear = "scaled_linear"
        case squaredCosine = "squaredcos_cap_v2"
    }

    /// The betas diffusers' schedulers make for `schedule` over `n` steps (in Float64).
    public static func betas(_ schedule: BetaSchedule, steps n: Int, start: Double, end: Double) -> [Double] {
        func linspace(_ a: Double, _ b: Double) -> [Double] {
            n == 1 ? [a] : (0..<n).map { a + Double($0) * (b - a) / Double(n - 1) }
        }
        switch schedule {
        case .linear:
            return linspace(start, end)
        case .scaledLinear:
            return linspace(start.squareRoot(), end.squareRoot()).map { $0 * $0 }
        case .squaredCosine:
            // betas_for_alpha_bar with the cosine ᾱ of improved DDPM, capped at 0.999.
            func alphaBar(_ t: Double) -> Double {
                let c = Foundation.cos((t + 0.008) / 1.008 * Double.pi / 2)
                return c * c
            }
            return (0..<n).map { i in
                Swift.min(1 - alphaBar(Double(i + 1) / Double(n)) / alphaBar(Double(i) / Double(n)), 0.999)
            }
        }
    }

    /// The segment [k/N, (k+1)/N] holding t (k = 0 is the one from 0 to t_0), the lower
    /// one at a knot; clamped to the first and last.
    @inline(__always)
    private func segment(_ t: Double) -> Int {
        let n = Double(steps), raw = (t * n).rounded(.up) - 1
        guard raw.isFinite else { return 0 }
        return Swift.min(steps - 1, Swift.max(0, Int(raw)))
    }

    /// log α at knot k (k = 0 is t = 0, k = n + 1 is t_n).
    @inline(__always)
    private func knot(_ k: Int) -> Double { k == 0 ? 0 : logAlpha[k - 1] }

    /// log α(t), linear between the knots (and past t = 1 along the last segment).
    public func logMean(_ t: Double) -> Double {
        let k = segment(t), n = Double(steps)
        let t0 = Double(k) / n
        return knot(k) + (t - t0) * n * (knot(k + 1) - knot(k))
    }

    /// β(t) = −2 d log α/dt on t's segment.
    public func beta(_ t: Double) -> Double {
        let k = segment(t)
        return -2 * Double(steps) * (knot(k + 1) - knot(k))
    }
}
