import Foundation
import ScoreCore

/// How training times t are drawn, and so how the score-matching loss is weighted over t.
public enum TimeWeighting: String, Sendable, CaseIterable {
    /// t ~ U(eps, 1) with the loss weighted by σ_t² (score_sde's default): every noise
    /// level counts alike in noise-prediction units.
    case sigma
    /// Likelihood weighting λ(t) = g(t)² (Song, Durkan, Murray & Ermon 2021), with t
    /// importance-sampled from p(t) ∝ g(t)²/σ_t² so the per-sample weight is constant:
    /// the loss then bounds the negative log-likelihood, and the small noise levels that
    /// decide likelihoods get most of the samples.
    case likelihood
}

/// Draws training times by the inverse CDF of the weighting's time density on
/// [eps, 1], tabulated once in Float64 (in log t, where g²/σ² · t is smooth for every
/// SDE) so each draw is a binary search and one interpolation, with no allocation.
public struct TrainingTimes: Sendable {
    public let weighting: TimeWeighting
    public let eps: Double
    /// log t at the table's knots, and the normalised cumulative density there.
    private let logT: [Double]
    private let cumulative: [Double]

    public init(weighting: TimeWeighting, sde: SDE, eps: Double, knots: Int = 4096) {
        self.weighting = weighting
        self.eps = eps
        guard weighting == .likelihood else {
            logT = []
            cumulative = []
            return
        }
        let lo = Foundation.log(eps)
        var logT = [Double](repeating: 0, count: knots)
        var density = [Double](repeating: 0, count: knots)
        for i in 0..<knots {
            let s = lo + (0 - lo) * Double(i) / Double(knots - 1)
            let t = Foundation.exp(s)
            let g = sde.diffusion(t), sigma = sde.marginalStd(t)
            logT[i] = s
            density[i] = g * g / (sigma * sigma) * t  // per unit of log t
        }
        var cumulative = [Double](repeating: 0, count: knots)
        for i in 1..<knots {
            cumulative[i] = cumulative[i - 1] + 0.5 * (density[i] + density[i - 1]) * (logT[i] - logT[i - 1])
        }
        let total = cumulative[knots - 1]
        for i in cumulative.indices { cumulative[i] /= total }
        self.logT = logT
        self.cumulative = cumulative
    }

    /// The time for a uniform draw u ∈ [0, 1).
    @inline(__always)
    public func time(_ u: Double) -> Double {
        guard weighting == .likelihood else { return eps + (1 - eps) * u }
        // The last knot whose cumulative is ≤ u.
        var lo = 0, hi = cumulative.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if cumulative[mid] <= u { lo = mid } else { hi = mid }
        }
        let span = cumulative[hi] - cumulative[lo]
        let f = span > 0 ? (u - cumulative[lo]) / span : 0
        return Swift.min(1, Swift.max(eps, Foundation.exp(logT[lo] + f * (logT[hi] - logT[lo]))))
    }
}
