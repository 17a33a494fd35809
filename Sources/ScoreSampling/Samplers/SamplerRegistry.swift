/// Every sampler, by the name clients use. Adding a sampler is its file and one line here.
enum SamplerRegistry {
    static let all: [any Sampler.Type] = [
        EulerMaruyamaSampler.self,
        ReverseDiffusionSampler.self,
        AncestralSampler.self,
        PredictorCorrectorSampler.self,
        ProbabilityFlowSampler.self,
        DPMSolverSampler.self,
    ]

    /// The sampler a request without `sampler` gets.
    static let defaultSampler: any Sampler.Type = PredictorCorrectorSampler.self

    static func named(_ name: String) -> (any Sampler.Type)? {
        all.first { $0.name == name }
    }
}

/// The samplers as the API, the CLI and their documentation see them.
public enum Samplers {
    /// Names, in the registry's order.
    public static var names: [String] { SamplerRegistry.all.map { $0.name } }
    /// The name a request without `sampler` gets.
    public static var defaultName: String { SamplerRegistry.defaultSampler.name }

    /// One line per sampler: `name: summary`.
    public static var summaries: [(name: String, summary: String)] {
        SamplerRegistry.all.map { ($0.name, $0.summary) }
    }

    /// Where a sampler-specific field applies: `sampler "ode" with log_likelihood`.
    public static func applicability(of field: String) -> String {
        let kinds = SamplerRegistry.all.filter {
            $0.sharedFields.contains(field) || $0.ownFields.contains { $0.name == field }
        }
        return "sampler" + (kinds.count == 1 ? " " : "s ") + kinds.map { kind in
            "\"\(kind.name)\"" + (kind.fieldConditions[field].map { " " + $0 } ?? "")
        }.joined(separator: ", ")
    }

    /// `steps`' default of each sampler whose default is not `common`.
    public static func stepDefaults(otherThan common: Int) -> [(name: String, steps: Int)] {
        SamplerRegistry.all.filter { $0.defaultSteps != common }.map { ($0.name, $0.defaultSteps) }
    }

    /// The samplers' own fields, in registry order.
    public static var ownFields: [RequestField] { SamplerRegistry.all.flatMap { $0.ownFields } }
}
