import ScoreCore

/// Samples by integrating the probability-flow ODE from T to eps (score_sde's
/// `ode_sampler`): adaptive Dormand–Prince per sample, or fixed Euler, Heun or RK4
/// steps; optionally with the divergence along the way for each sample's log-likelihood,
/// and one Tweedie denoising step at the end.
struct ProbabilityFlowSampler: Sampler {
    static let name = "ode"
    static let summary = "the probability-flow ODE"
    static let method = RequestField.sampler(
        "method", .choice(ODEMethod.allCases.map(\.rawValue)), default: .string(ODEMethod.rk45.rawValue),
        "ODE method (default rk45): euler, heun, rk4 take `steps` fixed steps; rk45 is adaptive, per sample.")
    static let logLikelihood = RequestField.sampler(
        "log_likelihood", .boolean, default: false,
        "With sampler ode: also return each sample's log-likelihood (nats, data space) and bits per dimension (default false); `estimator`, `noise` and `probes` apply as for likelihoods.")
    static let ownFields = [method, logLikelihood]
    static let sharedFields: Set<String> = ["latents", "rtol", "atol", "estimator", "noise", "probes"]
    static let fieldConditions = ["estimator": "with log_likelihood", "noise": "with log_likelihood",
                                  "probes": "with log_likelihood"]

    let sde: SDE
    let network: any ScoreNetwork
    let method: ODEMethod
    let steps: Int
    let rtol: Double, atol: Double
    let eps: Double
    let denoise: Bool
    /// Set with `log_likelihood`.
    let divergence: DivergenceOptions?

    init(_ request: SampleRequest) throws(SamplingError) {
        let values = request.values
        method = try values.choice(Self.method, ODEMethod.self)!
        if method == .rk45 {
            try check(!request.stepsGiven, "steps", "does not apply to method \"rk45\" (adaptive)")
        }
        let logLikelihood = try values.bool(Self.logLikelihood)!
        if logLikelihood {
            try check(request.model.network.supportsJVP, "log_likelihood",
                      "the \(request.model.network.typeName) network has no likelihood")
            try check(request.denoise != true, "denoise",
                      "cannot be true with log_likelihood (the Tweedie step has no tractable density)")
            divergence = try DivergenceOptions(values, .sample, dimension: request.dimension)
        } else {
            for (field, condition) in Self.fieldConditions.sorted(by: { $0.key < $1.key }) where values[field] != nil {
                throw .invalidArgument(field: field, message: "only applies \(condition)")
            }
            divergence = nil
        }
        sde = request.sde
        network = request.model.network
        steps = request.steps
        rtol = try values.double(RequestFields.row("rtol", .sample))!
        atol = try values.double(RequestFields.row("atol", .sample))!
        eps = request.eps
        denoise = request.denoise ?? !logLikelihood
    }

    var evaluationsPerSample: Int {
        (method == .rk45 ? ODESolver.nominalAdaptiveEvaluations : steps * method.evaluationsPerStep) + (denoise ? 1 : 0)
    }
    var tangentsPerEvaluation: Int { divergence?.tangents(dimension: network.dimension) ?? 0 }
    var chunking: SamplerChunking { method == .rk45 ? .adaptive : .lockstep }
    var returnsLogLikelihood: Bool { divergence != nil }

    func run(_ chunk: SampleChunk) throws(SamplingError) {
        let state = chunk.state, rows = state.rows, d = state.dimension
        let flow = ProbabilityFlow(sde: sde, network: network, capacity: rows, divergence: divergence,
                                   stats: chunk.control.stats, seed: chunk.seed, probeIndex: chunk.index)
        let w = flow.width
        let y = UnsafeMutablePointer<Double>.allocate(capacity: rows * w)
        defer { y.deallocate() }
        for r in 0..<rows {
            for j in 0..<d { y[r * w + j] = state.x[r * d + j] }
            if divergence != nil { y[r * w + d] = 0 }
        }
        if method == .rk45 {
            try ODESolver.rk45(flow, y: y, rows: rows, from: sde.T, to: eps, rtol: rtol, atol: atol,
                               control: chunk.control, firstSample: chunk.first)
        } else {
            try ODESolver.fixed(flow, method: method, y: y, rows: rows, from: sde.T, to: eps,
                                steps: steps, control: chunk.control)
        }
        for r in 0..<rows {
            if divergence != nil {
                // log p_eps(x) = log π(x_T) − ℓ(eps), with ℓ(T) = 0 (see ProbabilityFlow).
                var norm = 0.0
                for j in 0..<d { norm += state.x[r * d + j] * state.x[r * d + j] }
                chunk.logLikelihood[r] = sde.priorLogDensity(squaredNorm: norm, dimension: d) - y[r * w + d]
            }
            for j in 0..<d { state.x[r * d + j] = y[r * w + j] }
        }
        for r in 0..<rows { state.nfe[r] = flow.nfe[r] }
        if denoise {
            // One Tweedie step: E[x_0 | x_eps] = (x + σ_eps² s(x, eps)) / a_eps.
            for r in 0..<rows { state.times[r] = eps }
            state.evaluate(state.x, count: rows)
            let a = sde.meanCoefficient(eps), s = sde.marginalStd(eps)
            for i in 0..<(rows * d) { state.x[i] = (state.x[i] + s * s * Double(state.score[i])) / a }
        }
    }
}
