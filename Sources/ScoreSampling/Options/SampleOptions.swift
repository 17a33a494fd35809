import ScoreCore

/// A sampling request as the HTTP contract defines it; `nil` means "the default".
public struct SampleOptions: Sendable {
    public var n: Int = 1
    public var seed: UInt64 = 0
    public var offset: UInt64 = 0
    public var sampler: SamplerKind = .pc
    public var steps: Int?
    public var predictor: PredictorKind?
    public var corrector: CorrectorKind?
    public var snr: Double?
    public var correctorSteps: Int?
    public var method: ODEMethod?
    public var rtol: Double?
    public var atol: Double?
    public var order: Int?
    public var denoise: Bool?
    public var eps: Double?
    public var logLikelihood = false
    public var estimator: DivergenceEstimator?
    public var noise: ProbeNoise?
    public var probes: Int?
    /// Prior latents x(T) in model space, [count × D], decoded deterministically.
    public var latents: [Double]?

    public init() {}

    /// Largest `n` and `steps` the engine accepts (the HTTP layer may set lower limits).
    public static let maxN = 1_000_000
    public static let maxSteps = 10_000_000
}

/// `SampleOptions` with every default filled in and checked against a model.
public struct ResolvedSampleOptions: Sendable, Equatable {
    public let n: Int
    public let seed: UInt64
    public let offset: UInt64
    public let sampler: SamplerKind
    public let steps: Int
    public let predictor: PredictorKind
    public let corrector: CorrectorKind
    public let snr: Double
    public let correctorSteps: Int
    public let method: ODEMethod
    public let rtol: Double
    public let atol: Double
    public let order: Int
    public let denoise: Bool
    public let eps: Double
    public let logLikelihood: Bool
    public let divergence: DivergenceOptions
    public let latents: [Double]?
}

/// How divergences are computed along a likelihood ODE.
public struct DivergenceOptions: Sendable, Equatable {
    public let estimator: DivergenceEstimator
    public let noise: ProbeNoise
    public let probes: Int

    /// The contract's defaults: exact trace when D ≤ 16, else Hutchinson with one
    /// Rademacher probe.
    static func resolve(estimator: DivergenceEstimator?, noise: ProbeNoise?, probes: Int?,
                        dimension: Int) throws(SamplingError) -> DivergenceOptions {
        let probes = probes ?? 1
        guard (1...256).contains(probes) else {
            throw .invalidArgument(field: "probes", message: "must be between 1 and 256, got \(probes)")
        }
        return DivergenceOptions(estimator: estimator ?? (dimension <= 16 ? .exact : .hutchinson),
                                 noise: noise ?? .rademacher, probes: probes)
    }
}

func check(_ ok: Bool, _ field: String, _ message: @autoclosure () -> String) throws(SamplingError) {
    if !ok { throw .invalidArgument(field: field, message: message()) }
}

func checkTolerance(_ value: Double, _ field: String) throws(SamplingError) {
    try check(value.isFinite && value > 0 && value < 1, field, "must be in (0, 1), got \(value)")
}

func checkEps(_ eps: Double, _ sde: SDE) throws(SamplingError) {
    try check(eps.isFinite && eps > 0 && eps < sde.T, "eps", "must be in (0, \(sde.T)), got \(eps)")
}

extension SampleOptions {
    /// Fills in the defaults of the contract and validates every field against `model`.
    public func resolved(for model: ScoreModel) throws(SamplingError) -> ResolvedSampleOptions {
        let sde = model.sde
        let d = model.data.dimension
        var n = self.n
        if let latents {
            try check([SamplerKind.ode, .dpmSolver].contains(sampler), "latents",
                      "decoding latents needs sampler \"ode\" or \"dpm_solver\", got \"\(sampler.rawValue)\"")
            try check(!latents.isEmpty && latents.count % d == 0, "latents",
                      "expected points of \(d) values each")
            try check(latents.allSatisfy(\.isFinite), "latents", "must be finite numbers")
            try check(offset == 0, "offset", "cannot be combined with latents")
            n = latents.count / d
        }
        try check(n >= 1 && n <= SampleOptions.maxN, "n", "must be between 1 and \(SampleOptions.maxN), got \(n)")
        try check(seed <= UInt64(Int64.max), "seed", "must be between 0 and 2^63-1")
        try check(offset <= NoiseKey.maxIndex && UInt64(n) <= NoiseKey.maxIndex + 1 - offset, "offset",
                  "offset + n must not pass 2^53")

        let isSDE = [SamplerKind.eulerMaruyama, .reverseDiffusion, .ancestral, .pc].contains(sampler)
        if sampler != .pc {
            for (field, given) in [("predictor", predictor != nil), ("corrector", corrector != nil),
                                   ("snr", snr != nil), ("corrector_steps", correctorSteps != nil)] where given {
                throw .invalidArgument(field: field, message: "only applies to sampler \"pc\"")
            }
        }
        if sampler != .ode {
            try check(method == nil, "method", "only applies to sampler \"ode\"")
            try check(!logLikelihood, "log_likelihood", "needs sampler \"ode\"")
        }
        if sampler != .ode && !logLikelihood {
            try check(rtol == nil, "rtol", "only applies to sampler \"ode\" with method \"rk45\"")
            try check(atol == nil, "atol", "only applies to sampler \"ode\" with method \"rk45\"")
        }
        if sampler != .dpmSolver { try check(order == nil, "order", "only applies to sampler \"dpm_solver\"") }
        if !logLikelihood {
            for (field, given) in [("estimator", estimator != nil), ("noise", noise != nil), ("probes", probes != nil)] where given {
                throw .invalidArgument(field: field, message: "only applies with log_likelihood")
            }
        }

        let predictor: PredictorKind
        switch sampler {
        case .eulerMaruyama: predictor = .eulerMaruyama
        case .reverseDiffusion: predictor = .reverseDiffusion
        case .ancestral: predictor = .ancestral
        default:
            predictor = self.predictor ?? ([.ve, .vePower].contains(sde.kind) ? .reverseDiffusion : .eulerMaruyama)
        }
        if isSDE && predictor == .ancestral {
            try check(sde.kind == .vp || sde.kind == .ve, sampler == .pc ? "predictor" : "sampler",
                      "ancestral sampling is defined for vp and ve SDEs, not \(sde.kind.rawValue)")
        }
        let corrector: CorrectorKind = sampler == .pc
            ? (self.corrector ?? ([.ve, .vePower].contains(sde.kind) ? .annealedLangevin : .none)) : .none
        if corrector == .langevin { try check(offset == 0, "offset", "cannot be combined with corrector \"langevin\"") }
        let snr = self.snr ?? 0.16
        try check(snr.isFinite && snr > 0 && snr <= 10, "snr", "must be in (0, 10], got \(snr)")
        let correctorSteps = self.correctorSteps ?? 1
        try check((0...100).contains(correctorSteps), "corrector_steps", "must be between 0 and 100, got \(correctorSteps)")

        let method = self.method ?? .rk45
        let steps = self.steps ?? (sampler == .dpmSolver ? 20 : 1000)
        try check(steps >= 1 && steps <= SampleOptions.maxSteps, "steps",
                  "must be between 1 and \(SampleOptions.maxSteps), got \(steps)")
        if sampler == .ode && method == .rk45 { try check(self.steps == nil, "steps", "does not apply to method \"rk45\" (adaptive)") }
        // The DDPM discretisation of vp (reverse diffusion, ancestral) takes steps of
        // β_i ≤ β_max/N, whose √(1 − β_i) needs β_max/N ≤ 1: fewer steps give NaNs.
        // Ancestral steps divide by √(1 − β_i), so there β_max/N must stay below 1.
        if isSDE && sde.kind == .vp && predictor == .reverseDiffusion {
            try check(Double(steps) >= sde.betaMax, "steps", """
                must be at least beta_max (\(sde.betaMax)) for reverse_diffusion on a vp SDE: its DDPM \
                discretisation has β_i up to beta_max/steps, and √(1 − β_i) needs it at most 1; got \(steps)
                """)
        }
        if isSDE && sde.kind == .vp && predictor == .ancestral {
            try check(Double(steps) > sde.betaMax, "steps", """
                must exceed beta_max (\(sde.betaMax)) for ancestral on a vp SDE: its DDPM steps divide by \
                √(1 − β_i) with β_i up to beta_max/steps, which must stay below 1; got \(steps)
                """)
        }
        let rtol = self.rtol ?? 1e-5, atol = self.atol ?? 1e-5
        try checkTolerance(rtol, "rtol")
        try checkTolerance(atol, "atol")
        let order = self.order ?? 3
        try check((1...3).contains(order), "order", "must be 1, 2 or 3, got \(order)")
        if sampler == .dpmSolver { try check(steps >= 1, "steps", "must be at least 1") }

        if logLikelihood {
            try check(model.network.supportsJVP, "log_likelihood", "the \(model.network.typeName) network has no likelihood")
            try check(denoise != true, "denoise", "cannot be true with log_likelihood (the Tweedie step has no tractable density)")
        }
        let denoise = self.denoise ?? !logLikelihood
        let eps = self.eps ?? sde.samplingEps
        try checkEps(eps, sde)
        let divergence = try DivergenceOptions.resolve(estimator: estimator, noise: noise, probes: probes, dimension: d)
        if corrector == .langevin { try check(n <= 100_000, "n", "corrector \"langevin\" couples the request's samples; at most 100000") }

        return ResolvedSampleOptions(
            n: n, seed: seed, offset: offset, sampler: sampler, steps: steps, predictor: predictor,
            corrector: corrector, snr: snr, correctorSteps: corrector == .none ? 0 : correctorSteps,
            method: method, rtol: rtol, atol: atol, order: order, denoise: denoise, eps: eps,
            logLikelihood: logLikelihood, divergence: divergence, latents: latents)
    }
}
