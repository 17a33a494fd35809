import ScoreJSON

extension SDE {
    /// The SDE's parameters as the format names them, in order (`beta_min`, `beta_max`
    /// for vp and subvp; `sigma_min`, `sigma_max` for ve; `sigma` for ve_power;
    /// `num_train_timesteps` for vp_discrete).
    public var parameters: [(String, Double)] {
        switch kind {
        case .vp, .subvp: [("beta_min", betaMin), ("beta_max", betaMax)]
        case .ve: [("sigma_min", sigmaMin), ("sigma_max", sigmaMax)]
        case .vePower: [("sigma", sigma)]
        case .vpDiscrete: [("num_train_timesteps", Double(schedule!.steps))]
        }
    }

    /// The SDE's `config.json` section: its type and parameters, as the format spells them.
    public var configObject: JSONObject {
        var o = JSONObject(["type": .string(kind.rawValue)])
        for (name, value) in parameters { o[name] = .number(value) }
        return o
    }
}
