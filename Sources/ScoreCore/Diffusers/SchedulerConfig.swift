import ScoreJSON

/// What a DDPM-family model's network predicts (diffusers' `prediction_type`).
public enum Prediction: String, Sendable, Equatable, CaseIterable {
    /// The noise ε: s = −ε̂/σ_t.
    case epsilon
    /// The clean image x̂₀: s = (α_t x̂₀ − x)/σ_t².
    case sample
    /// v = α_t ε − σ_t x₀: s = −x − (α_t/σ_t) v̂.
    case vPrediction = "v_prediction"
}

/// A diffusers scheduler_config.json read for its training noise: the discrete betas and
/// the prediction type of the DDPM family (DDPM, DDIM, PNDM, DPM-Solver, Euler, ...,
/// read alike: their inference-only fields are skipped), or `ScoreSdeVeScheduler`'s VE
/// SDE. A field that would change the schedule or the network's input is refused.
public struct SchedulerConfig: Sendable, Equatable {
    /// The noise process a scheduler config describes.
    public enum Noise: Sendable, Equatable {
        /// DDPM's discrete betas (DPM-Solver's discrete VP SDE); the network predicts
        /// `Prediction` at timestep N·t − 1.
        case discrete(DiscreteSchedule, Prediction)
        /// score_sde's VE SDE, σ(t) = σ_min (σ_max/σ_min)^t (`ScoreSdeVeScheduler`): the
        /// network's input is σ(t) and its output the score.
        case ve(sigmaMin: Double, sigmaMax: Double, samplingEps: Double)
    }

    public let className: String
    public let noise: Noise

    /// The SDE the models of this scheduler are sampled on.
    public var sde: SDE {
        switch noise {
        case .discrete(let schedule, _): SDE(schedule: schedule)
        case .ve(let lo, let hi, let eps): SDE(kind: .ve, sigmaMin: lo, sigmaMax: hi, samplingEps: eps)
        }
    }

    /// What the network's output is: a DDPM prediction, or nil for the score itself.
    public var prediction: Prediction? {
        if case .discrete(_, let p) = noise { p } else { nil }
    }

    /// "DDPMScheduler schedule of 1000 steps, epsilon prediction", for descriptions.
    public var summary: String {
        switch noise {
        case .discrete(let schedule, let p): "\(className) schedule of \(schedule.steps) steps, \(p.rawValue) prediction"
        case .ve(let lo, let hi, _): "\(className) VE SDE, σ from \(lo) to \(hi), score output"
        }
    }

    /// Scheduler classes whose training schedule is DDPM's betas.
    static let classes: Set<String> = [
        "DDPMScheduler", "DDIMScheduler", "DDIMInverseScheduler", "PNDMScheduler", "DPMSolverMultistepScheduler",
        "DPMSolverSinglestepScheduler", "DPMSolverMultistepInverseScheduler", "DPMSolverSDEScheduler",
        "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler", "HeunDiscreteScheduler", "LMSDiscreteScheduler",
        "KDPM2DiscreteScheduler", "KDPM2AncestralDiscreteScheduler", "UniPCMultistepScheduler",
        "DEISMultistepScheduler", "SASolverScheduler", "DDPMParallelScheduler", "DDIMParallelScheduler",
        "TCDScheduler", "LCMScheduler",
    ]

    /// Fields that only steer diffusers' own sampling loop (its timesteps, clipping,
    /// solver order, ...): a request's sampler replaces that loop.
    static let inferenceOnly: Set<String> = [
        "timestep_spacing", "steps_offset", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
        "thresholding", "sample_max_value", "dynamic_thresholding_ratio", "lower_order_final", "clip_sample",
        "clip_sample_range", "variance_type", "solver_type", "solver_order", "set_alpha_to_one", "final_sigmas_type",
        "algorithm_type", "lambda_min_clipped", "timestep_scaling", "original_inference_steps", "euler_at_final",
        "use_lu_lambdas", "skip_prk_steps", "interpolation_type", "disable_corrector", "corrector_order",
        "predictor_order", "noise_sampler_seed", "solver_p", "tau_func", "rho", "eta", "flow_shift", "use_dynamic_shifting", "time_shift_type", "shift_terminal", "sigma_min", "sigma_max",
        "denoise_final",
    ]

    /// Parses scheduler_config.json (`file` names it in errors).
    public static func parse(_ object: JSONObject, file: String) throws(ModelLoadError) -> SchedulerConfig {
        var r = DiffusersConfigReader(object, file: file)
        guard let className = try r.string("_class_name", default: nil) else {
            throw r.fail("_class_name", "missing: a diffusers scheduler config names its class")
        }
        if className == "ScoreSdeVeScheduler" { return try parseVE(&r, className: className) }
        guard classes.contains(className) else {
            throw r.fail("_class_name", "'\(className)' is not supported (ScoreServe reads ScoreSdeVeScheduler's VE SDE and the DDPM schedule of \(classes.sorted().joined(separator: ", ")))")
        }
        let n = try r.int("num_train_timesteps", default: 1000, atLeast: 1)
        guard let n else { throw r.fail("num_train_timesteps", "expected an integer, got null") }
        let start = try r.double("beta_start", default: 0.0001)
        let end = try r.double("beta_end", default: 0.02)
        let scheduleName = try r.string("beta_schedule", default: "linear")
        let prediction = try r.string("prediction_type", default: "epsilon")
        guard let kind = prediction.flatMap(Prediction.init(rawValue:)) else {
            throw r.fail("prediction_type", "\(prediction.map { "'\($0)'" } ?? "null") is not supported (ScoreServe serves \(Prediction.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")))")
        }
        if try r.bool("rescale_betas_zero_snr", default: false) {
            throw r.fail("rescale_betas_zero_snr", "true is not supported: a zero terminal SNR has no Gaussian prior for the SDE")
        }
        if try r.bool("use_flow_sigmas", default: false) {
            throw r.fail("use_flow_sigmas", "true is not supported: flow-matching models are not DDPM models")
        }
        let timestepType = try r.string("timestep_type", default: "discrete")
        try r.only("timestep_type", timestepType, ["discrete"])

        var betas: [Double]
        let trainedBetas = r.value("trained_betas")
        if let trained = trainedBetas {
            guard case .array(let items) = trained, !items.isEmpty else {
                throw r.fail("trained_betas", "expected an array of numbers")
            }
            betas = []
            for (i, item) in items.enumerated() {
                guard let b = try r.reader.number(item, "trained_betas[\(i)]") else { throw r.fail("trained_betas", "missing element") }
                betas.append(b)
            }
            guard betas.count == n else {
                throw r.fail("trained_betas", "\(betas.count) betas for num_train_timesteps \(n)")
            }
        } else {
            guard let name = scheduleName, let schedule = DiscreteSchedule.BetaSchedule(rawValue: name) else {
                throw r.fail("beta_schedule", "\(scheduleName.map { "'\($0)'" } ?? "null") is not supported (ScoreServe serves \(DiscreteSchedule.BetaSchedule.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")) or trained_betas)")
            }
            guard let start, let end else { throw r.fail(start == nil ? "beta_start" : "beta_end", "expected a number, got null") }
            betas = DiscreteSchedule.betas(schedule, steps: n, start: start, end: end)
        }
        if let i = betas.firstIndex(where: { !($0 > 0 && $0 < 1) }) {
            throw r.fail(trainedBetas != nil ? "trained_betas" : "beta_start",
                         "beta \(i) is \(betas[i]); every beta must lie in (0, 1)")
        }
        for key in object.keys where inferenceOnly.contains(key) { _ = r.value(key) }
        try r.rejectUnknown("scheduler config")
        return SchedulerConfig(className: className, noise: .discrete(DiscreteSchedule(betas: betas), kind))
    }

    /// `ScoreSdeVeScheduler`: σ_min, σ_max and sampling_eps make the VE SDE;
    /// num_train_timesteps, snr and correct_steps only steer diffusers' own sampling loop
    /// (a request's `steps` and `snr` replace them).
    static func parseVE(_ r: inout DiffusersConfigReader, className: String) throws(ModelLoadError) -> SchedulerConfig {
        func positive(_ key: String, _ value: Double) throws(ModelLoadError) -> Double {
            let v = try r.double(key, default: value)
            guard let v, v > 0, v.isFinite else { throw r.fail(key, "expected a positive number, got \(v.map { "\($0)" } ?? "null")") }
            return v
        }
        let lo = try positive("sigma_min", 0.01), hi = try positive("sigma_max", 1348)
        guard hi > lo else { throw r.fail("sigma_max", "\(hi) is not above sigma_min \(lo)") }
        let eps = try positive("sampling_eps", 1e-5)
        guard eps < 1 else { throw r.fail("sampling_eps", "\(eps) is not below 1 (the SDE runs on t ∈ [eps, 1])") }
        _ = try r.int("num_train_timesteps", default: 2000, atLeast: 1)
        _ = try r.double("snr", default: 0.15)
        _ = try r.int("correct_steps", default: 1, atLeast: 0)
        try r.rejectUnknown("scheduler config")
        return SchedulerConfig(className: className, noise: .ve(sigmaMin: lo, sigmaMax: hi, samplingEps: eps))
    }
}
