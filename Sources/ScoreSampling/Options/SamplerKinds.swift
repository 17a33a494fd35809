/// Samplers of the HTTP contract's `sampler` field.
public enum SamplerKind: String, Sendable, CaseIterable {
    case eulerMaruyama = "euler_maruyama"
    case reverseDiffusion = "reverse_diffusion"
    case ancestral
    case pc
    case ode
    case dpmSolver = "dpm_solver"
}

/// Predictors of the `pc` sampler (and the stand-alone SDE samplers).
public enum PredictorKind: String, Sendable, CaseIterable {
    case eulerMaruyama = "euler_maruyama"
    case reverseDiffusion = "reverse_diffusion"
    case ancestral
}

/// Correctors of the `pc` sampler.
public enum CorrectorKind: String, Sendable, CaseIterable {
    /// Per-sample step 2α(snr·σ_t)².
    case annealedLangevin = "annealed_langevin"
    /// score_sde's rule: step 2α(snr·‖z‖/‖g‖)² with norms averaged over the request.
    case langevin
    case none
}

/// Probability-flow ODE methods.
public enum ODEMethod: String, Sendable, CaseIterable {
    case euler, heun, rk4, rk45

    /// Network evaluations per fixed step.
    public var evaluationsPerStep: Int {
        switch self {
        case .euler: 1
        case .heun: 2
        case .rk4: 4
        case .rk45: 6
        }
    }
}

/// How the divergence of the probability-flow drift is computed.
public enum DivergenceEstimator: String, Sendable, CaseIterable {
    /// The exact Jacobian trace, one JVP per dimension.
    case exact
    /// The Hutchinson–Skilling estimator E[εᵀ J ε].
    case hutchinson
}

/// Distribution of Hutchinson probes.
public enum ProbeNoise: String, Sendable, CaseIterable {
    case rademacher, gaussian
}
