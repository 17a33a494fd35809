import Foundation

/// A forward SDE `dx = f(x, t) dt + g(t) dw` on t ∈ [0, T], T = 1, with a linear
/// drift `f(x, t) = b(t) x`, as in Song et al. 2021 (score_sde's `sde_lib`), or the VP
/// SDE of a DDPM model's discrete schedule (`vp_discrete`, see `DiscreteSchedule`).
///
/// Every coefficient is evaluated in Float64 with `expm1` where the closed form has
/// `1 - e^…` or `σ^{2t} - 1`, so small t keeps full relative precision.
public struct SDE: Sendable, Equatable {
    /// The SDE families of the model format.
    public enum Kind: String, Sendable, CaseIterable {
        case vp, subvp, ve
        case vePower = "ve_power"
        /// A DDPM schedule read as a VP SDE; made from a diffusers scheduler config.
        case vpDiscrete = "vp_discrete"
    }

    public let kind: Kind
    /// β0, β1 of `vp` and `subvp`.
    public let betaMin: Double
    public let betaMax: Double
    /// σmin, σmax of `ve`.
    public let sigmaMin: Double
    public let sigmaMax: Double
    /// σ of `ve_power` (dx = σ^t dw).
    public let sigma: Double
    /// The training schedule of `vp_discrete`.
    public let schedule: DiscreteSchedule?
    /// Smallest time used by samplers.
    public let samplingEps: Double
    /// Smallest time used by likelihoods and encoding.
    public let likelihoodEps: Double

    /// End time of the forward process.
    public var T: Double { 1 }

    public init(kind: Kind, betaMin: Double = 0.1, betaMax: Double = 20,
                sigmaMin: Double = 0.01, sigmaMax: Double = 50, sigma: Double = 25,
                samplingEps: Double? = nil, likelihoodEps: Double? = nil) {
        self.kind = kind
        self.betaMin = betaMin
        self.betaMax = betaMax
        self.sigmaMin = sigmaMin
        self.sigmaMax = sigmaMax
        self.sigma = sigma
        precondition(kind != .vpDiscrete, "a vp_discrete SDE is made by init(schedule:)")
        self.schedule = nil
        switch kind {
        case .vp, .subvp: self.samplingEps = samplingEps ?? 1e-3
        case .ve, .vePower, .vpDiscrete: self.samplingEps = samplingEps ?? 1e-5
        }
        self.likelihoodEps = likelihoodEps ?? 1e-5
    }

    /// The VP SDE of a discrete training schedule; sampling and likelihoods stop at its
    /// first step, t = 1/N, unless told otherwise.
    public init(schedule: DiscreteSchedule, samplingEps: Double? = nil, likelihoodEps: Double? = nil) {
        kind = .vpDiscrete
        betaMin = 0
        betaMax = 0
        sigmaMin = 0
        sigmaMax = 0
        sigma = 0
        self.schedule = schedule
        self.samplingEps = samplingEps ?? 1 / Double(schedule.steps)
        self.likelihoodEps = likelihoodEps ?? 1 / Double(schedule.steps)
    }

    /// The Kinds a config.json may name (`vp_discrete` comes from a scheduler config).
    public static let configKinds = Kind.allCases.filter { $0 != .vpDiscrete }

    /// β(t): β0 + t(β1 − β0) of `vp` and `subvp`, the schedule's of `vp_discrete`.
    @inline(__always)
    public func beta(_ t: Double) -> Double {
        if let schedule { return schedule.beta(t) }
        return betaMin + t * (betaMax - betaMin)
    }

    /// The log of the mean coefficient of `vp`/`subvp`/`vp_discrete`: for the first two
    /// m(t) = −t²(β1−β0)/4 − tβ0/2.
    @inline(__always)
    func logMean(_ t: Double) -> Double {
        if let schedule { return schedule.logMean(t) }
        return -t * t * (betaMax - betaMin) / 4 - t * betaMin / 2
    }

    /// b(t) in the drift f(x, t) = b(t)·x.
    public func driftCoefficient(_ t: Double) -> Double {
        switch kind {
        case .vp, .subvp, .vpDiscrete: -beta(t) / 2
        case .ve, .vePower: 0
        }
    }

    /// g(t).
    public func diffusion(_ t: Double) -> Double {
        switch kind {
        case .vp, .vpDiscrete:
            return beta(t).squareRoot()
        case .subvp:
            // 1 − e^{−2β0 t − (β1−β0) t²} = −expm1(4 m(t))
            return (beta(t) * -Foundation.expm1(4 * logMean(t))).squareRoot()
        case .ve:
            return sigmaMin * Foundation.pow(sigmaMax / sigmaMin, t)
                * (2 * Foundation.log(sigmaMax / sigmaMin)).squareRoot()
        case .vePower:
            return Foundation.pow(sigma, t)
        }
    }

    /// a_t, the marginal mean coefficient: x(t) | x(0) has mean a_t x(0).
    public func meanCoefficient(_ t: Double) -> Double {
        switch kind {
        case .vp, .subvp, .vpDiscrete: Foundation.exp(logMean(t))
        case .ve, .vePower: 1
        }
    }

    /// σ_t, the marginal standard deviation of x(t) | x(0).
    ///
    /// For `ve` this is σ(t) = σmin(σmax/σmin)^t as in score_sde (the exact std would
    /// be √(σ(t)² − σmin²)).
    public func marginalStd(_ t: Double) -> Double {
        switch kind {
        case .vp, .vpDiscrete:
            return (-Foundation.expm1(2 * logMean(t))).squareRoot()
        case .subvp:
            return -Foundation.expm1(2 * logMean(t))
        case .ve:
            return sigmaMin * Foundation.pow(sigmaMax / sigmaMin, t)
        case .vePower:
            let logSigma = Foundation.log(sigma)
            return (Foundation.expm1(2 * t * logSigma) / (2 * logSigma)).squareRoot()
        }
    }

    /// λ(t) = log(a_t / σ_t), the half log signal-to-noise ratio (DPM-Solver's time).
    public func logSNR(_ t: Double) -> Double {
        Foundation.log(meanCoefficient(t)) - Foundation.log(marginalStd(t))
    }

    /// Standard deviation of the prior π = N(0, σ_prior² I).
    public var priorStd: Double {
        switch kind {
        case .vp, .subvp, .vpDiscrete: 1
        case .ve: sigmaMax
        case .vePower: marginalStd(T)
        }
    }

    /// log π(z) of a point with `dimension` coordinates whose squared norm is `squaredNorm`.
    public func priorLogDensity(squaredNorm: Double, dimension: Int) -> Double {
        let s = priorStd
        return -0.5 * Double(dimension) * Foundation.log(2 * Double.pi * s * s)
            - squaredNorm / (2 * s * s)
    }

    /// log π(z) of one point.
    public func priorLogDensity(_ z: some Collection<Double>) -> Double {
        priorLogDensity(squaredNorm: z.reduce(0) { $0 + $1 * $1 }, dimension: z.count)
    }
}
