/// Euler–Maruyama on the reverse SDE (score_sde's `EulerMaruyamaPredictor` alone):
/// x ← x − (f − g² s) Δt + g √Δt z with Δt = 1/steps.
struct EulerMaruyamaSampler: ReverseSDESampler {
    static let name = ReverseSDE.Predictor.eulerMaruyama.rawValue
    static let summary = "Euler–Maruyama steps of the reverse SDE"
    let process: ReverseSDE

    init(_ request: SampleRequest) throws(SamplingError) {
        process = try ReverseSDE(request, predictor: .eulerMaruyama, blaming: "sampler")
    }
}
