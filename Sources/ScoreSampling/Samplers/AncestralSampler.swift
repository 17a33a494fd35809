/// Ancestral sampling (score_sde's `AncestralSamplingPredictor`: DDPM for vp, SMLD for
/// ve), alone.
struct AncestralSampler: ReverseSDESampler {
    static let name = ReverseSDE.Predictor.ancestral.rawValue
    static let summary = "ancestral sampling, vp and ve only"
    let process: ReverseSDE

    init(_ request: SampleRequest) throws(SamplingError) {
        process = try ReverseSDE(request, predictor: .ancestral, blaming: "sampler")
    }
}
