import Foundation

/// One step of score_sde's discretisation of an SDE over `N` steps:
/// `x_{i+1} = x_i + f_i(x_i) + G_i z` with `f_i(x) = driftScale · x`.
public struct DiscreteStep: Sendable, Equatable {
    /// The linear discrete drift: f_i(x) = driftScale · x.
    public let driftScale: Double
    /// The discrete diffusion G_i.
    public let G: Double
}

/// One ancestral-sampling step (score_sde's `AncestralSamplingPredictor`):
/// `x_mean = xScale · (x + scoreScale · s(x, t))`, `x = x_mean + noiseStd · z`.
public struct AncestralStep: Sendable, Equatable {
    public let xScale: Double
    public let scoreScale: Double
    public let noiseStd: Double
}

extension SDE {
    /// The index score_sde derives from a time: `(t · (N − 1) / T).long()`, clamped.
    public func discreteIndex(_ t: Double, steps N: Int) -> Int {
        let raw = (t * Double(N - 1) / T).rounded(.towardZero)
        guard raw.isFinite else { return 0 }
        return Swift.min(N - 1, Swift.max(0, Int(raw)))
    }

    /// β_i of score_sde's `discrete_betas = linspace(β0/N, β1/N, N)`.
    public func discreteBeta(_ i: Int, steps N: Int) -> Double {
        guard N > 1 else { return betaMin / Double(N) }
        return betaMin / Double(N) + Double(i) * (betaMax - betaMin) / Double(N) / Double(N - 1)
    }

    /// σ_i of score_sde's `discrete_sigmas = exp(linspace(log σmin, log σmax, N))`.
    public func discreteSigma(_ i: Int, steps N: Int) -> Double {
        guard N > 1 else { return sigmaMin }
        let lo = Foundation.log(sigmaMin), hi = Foundation.log(sigmaMax)
        return Foundation.exp(lo + Double(i) * (hi - lo) / Double(N - 1))
    }

    /// The β of one DDPM step of a `vp_discrete` SDE from t down to t − h:
    /// 1 − ᾱ(t)/ᾱ(t − h), which is the schedule's own β_n when the step is one of its
    /// training steps (t = (n + 1)/N, h = 1/N).
    public func scheduleStepBeta(_ t: Double, stepSize h: Double) -> Double {
        -Foundation.expm1(2 * (logMean(t) - logMean(Swift.max(0, t - h))))
    }

    /// score_sde's `sde.discretize(x, t)` with `N` steps: the exact DDPM / SMLD
    /// discretisation for `vp` and `ve`, Euler–Maruyama (`f·dt`, `g·√dt`) otherwise.
    /// `vp_discrete` takes the DDPM step of its own schedule from t to t − `stepSize`.
    /// The reverse-diffusion predictor is built on it.
    public func discretize(_ t: Double, steps N: Int, stepSize: Double? = nil) -> DiscreteStep {
        switch kind {
        case .vpDiscrete:
            let beta = scheduleStepBeta(t, stepSize: stepSize ?? T / Double(N))
            return DiscreteStep(driftScale: (1 - beta).squareRoot() - 1, G: beta.squareRoot())
        case .vp:
            let beta = discreteBeta(discreteIndex(t, steps: N), steps: N)
            return DiscreteStep(driftScale: (1 - beta).squareRoot() - 1, G: beta.squareRoot())
        case .ve:
            let i = discreteIndex(t, steps: N)
            let s = discreteSigma(i, steps: N)
            let adjacent = i == 0 ? 0 : discreteSigma(i - 1, steps: N)
            return DiscreteStep(driftScale: 0, G: (s * s - adjacent * adjacent).squareRoot())
        case .subvp, .vePower:
            let dt = T / Double(N)
            return DiscreteStep(driftScale: driftCoefficient(t) * dt, G: diffusion(t) * dt.squareRoot())
        }
    }

    /// score_sde's ancestral step for `vp` (DDPM) and `ve` (SMLD), and for `vp_discrete`
    /// with its schedule's step from t to t − `stepSize` (at the training steps, the
    /// original DDPM sampler with σ_n² = β_n); `nil` for SDEs that have no ancestral sampler.
    public func ancestralStep(_ t: Double, steps N: Int, stepSize: Double? = nil) -> AncestralStep? {
        switch kind {
        case .vpDiscrete:
            let beta = scheduleStepBeta(t, stepSize: stepSize ?? T / Double(N))
            return AncestralStep(xScale: 1 / (1 - beta).squareRoot(), scoreScale: beta,
                                 noiseStd: beta.squareRoot())
        case .vp:
            let beta = discreteBeta(discreteIndex(t, steps: N), steps: N)
            return AncestralStep(xScale: 1 / (1 - beta).squareRoot(), scoreScale: beta,
                                 noiseStd: beta.squareRoot())
        case .ve:
            let i = discreteIndex(t, steps: N)
            let s = discreteSigma(i, steps: N)
            let adjacent = i == 0 ? 0 : discreteSigma(i - 1, steps: N)
            let gap = s * s - adjacent * adjacent
            return AncestralStep(xScale: 1, scoreScale: gap,
                                 noiseStd: (adjacent * adjacent * gap / (s * s)).squareRoot())
        case .subvp, .vePower:
            return nil
        }
    }
}
