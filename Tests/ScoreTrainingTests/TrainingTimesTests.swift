import Foundation
import Testing
import ScoreCore
import ScoreTraining

/// Training-time draws against their closed-form distributions.
@Suite("Training times")
struct TrainingTimesTests {
    /// Under vp, g²/σ² = β(t)/(1 − e^{−B(t)}) with B(t) = β0 t + (β1 − β0)t²/2, whose
    /// antiderivative is log(e^{B(t)} − 1): the likelihood weighting's time CDF on [eps, 1]
    /// is F(t) = [log(expm1 B(t)) − log(expm1 B(eps))] / [log(expm1 B(1)) − log(expm1 B(eps))].
    @Test("likelihood weighting draws t by the inverse of the closed-form CDF under vp")
    func likelihoodTimesFollowTheirCDF() {
        let sde = SDE(kind: .vp), eps = 1e-5
        let times = TrainingTimes(weighting: .likelihood, sde: sde, eps: eps)
        func b(_ t: Double) -> Double { sde.betaMin * t + (sde.betaMax - sde.betaMin) * t * t / 2 }
        func antiderivative(_ t: Double) -> Double { log(expm1(b(t))) }
        let total = antiderivative(1) - antiderivative(eps)
        var worst = 0.0
        for k in 0...1000 {
            let u = Double(k) / 1000 * 0.999999
            let t = times.time(u)
            #expect(t >= eps && t <= 1)
            worst = max(worst, abs((antiderivative(t) - antiderivative(eps)) / total - u))
        }
        // The table has 4096 knots in log t; linear interpolation of the CDF between them.
        #expect(worst < 1e-5, "largest CDF error \(worst)")
        // Most draws fall at small t, where likelihoods are decided: the median time
        // (B(t) = log(1 + e^{Z/2} expm1 B(eps)), Z the total, t ≈ 0.114) is far below the
        // uniform draw's 0.5.
        #expect(times.time(0.5) > 0.1 && times.time(0.5) < 0.13)
    }

    @Test("sigma weighting draws t uniformly on [eps, 1]")
    func sigmaTimesAreUniform() {
        let times = TrainingTimes(weighting: .sigma, sde: SDE(kind: .vp), eps: 1e-3)
        for u in [0.0, 0.25, 0.5, 0.999] {
            #expect(abs(times.time(u) - (1e-3 + (1 - 1e-3) * u)) < 1e-15)
        }
    }
}
