import ScoreCore

/// Predictor–corrector sampling (score_sde's `pc_sampler`): at each time, Langevin
/// corrector steps, then a predictor step.
struct PredictorCorrectorSampler: ReverseSDESampler {
    static let name = "pc"
    static let summary = "predictor + corrector"

    static let predictor = RequestField.sampler(
        "predictor", .choice(ReverseSDE.Predictor.allCases.map(\.rawValue)),
        "Predictor used by pc (default reverse_diffusion for ve/ve_power, euler_maruyama for vp/subvp).")
    static let corrector = RequestField.sampler(
        "corrector", .choice(ReverseSDE.Corrector.allCases.map(\.rawValue)),
        "Corrector used by pc (default annealed_langevin for ve/ve_power, none for vp/subvp): annealed_langevin steps 2α(snr·σ_t)² per sample; langevin is score_sde's rule, 2α(snr·‖z‖/‖g‖)² with the norms averaged over the request's n samples, so its samples depend on n (a 400 with offset; at most 100000 samples).")
    static let snr = RequestField.sampler(
        "snr", .number(.openClosed(0, 10)), default: 0.16, "Corrector signal-to-noise ratio (default 0.16).")
    static let correctorSteps = RequestField.sampler(
        "corrector_steps", .integer(0...100), default: 1, "Corrector steps per time step (default 1).")
    static let ownFields = [predictor, corrector, snr, correctorSteps]

    /// Most samples one langevin request couples.
    static let maxCoupled = 100_000

    let process: ReverseSDE

    init(_ request: SampleRequest) throws(SamplingError) {
        let values = request.values
        let scoreBased = [SDE.Kind.ve, .vePower].contains(request.sde.kind)
        let corrector = try values.choice(Self.corrector, ReverseSDE.Corrector.self)
            ?? (scoreBased ? .annealedLangevin : .none)
        if corrector == .langevin {
            try check(request.offset == 0, "offset", "cannot be combined with corrector \"langevin\"")
            try check(request.n <= Self.maxCoupled, "n",
                      "corrector \"langevin\" couples the request's samples; at most \(Self.maxCoupled)")
        }
        process = try ReverseSDE(
            request, predictor: try values.choice(Self.predictor, ReverseSDE.Predictor.self)
                ?? (scoreBased ? .reverseDiffusion : .eulerMaruyama),
            blaming: "predictor", corrector: corrector, snr: try values.double(Self.snr)!,
            correctorSteps: try values.int(Self.correctorSteps)!)
    }

    var chunking: SamplerChunking { process.corrector == .langevin ? .wholeRequest : .lockstep }
}
