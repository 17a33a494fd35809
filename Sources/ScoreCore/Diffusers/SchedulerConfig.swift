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

/// A diffusers scheduler_config.json read for its training schedule: the discrete
/// betas and the prediction type. The scheduler classes that share these fields (DDPM,
/// DDIM, PNDM, DPM-Solver, Euler, ...) are read alike; their inference-only fields are
/// skipped, and a field that would change the schedule or the network's input is refused.
public struct SchedulerConfig: Sendable, Equatable {
    public let className: String
    public let schedule: DiscreteSchedule
    public let prediction: Prediction

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
        guard classes.contains(className) else {
            throw r.fail("_class_name", "'\(className)' is not supported (ScoreServe reads the DDPM schedule of \(classes.sorted().joined(separator: ", ")))")
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
        return SchedulerConfig(className: className, schedule: DiscreteSchedule(betas: betas), prediction: kind)
    }
}
