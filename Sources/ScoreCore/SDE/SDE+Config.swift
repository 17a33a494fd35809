import ScoreJSON

extension SDE {
    /// The SDE's `config.json` section: its type and parameters, as the format spells them.
    public var configObject: JSONObject {
        var o = JSONObject(["type": .string(kind.rawValue)])
        switch kind {
        case .vp, .subvp:
            o["beta_min"] = .number(betaMin); o["beta_max"] = .number(betaMax)
        case .ve:
            o["sigma_min"] = .number(sigmaMin); o["sigma_max"] = .number(sigmaMax)
        case .vePower:
            o["sigma"] = .number(sigma)
        }
        return o
    }
}
