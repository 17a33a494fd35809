/// The reverse diffusion predictor alone (score_sde's `ReverseDiffusionPredictor`): the
/// SDE's own discretisation run backwards, x ← x − f_i + G_i² s + G_i z.
struct ReverseDiffusionSampler: ReverseSDESampler {
    static let name = ReverseSDE.Predictor.reverseDiffusion.rawValue
    static let summary = "the reverse of the SDE's discretisation"
    let process: ReverseSDE

    init(_ request: SampleRequest) throws(SamplingError) {
        process = try ReverseSDE(request, predictor: .reverseDiffusion, blaming: "sampler")
    }
}
