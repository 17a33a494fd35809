import ArgumentParser
import ScoreCore
import ScoreHTTP
import ScoreSampling

struct Likelihood: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log-likelihoods of points by the probability-flow ODE.",
        discussion: """
            Integrates the instantaneous change of variables from eps to T (rk45). The
            number is log p_eps(x) + log π(z) − log p_T(z) in nats in data space (π the
            prior, z the latent). Every field of POST /v1/models/{name}/likelihood is a
            flag (x is --input); the output is the JSON object the API answers.

            Fields:
            \(FieldFlags.help(.likelihood))

            Examples:
              scoreserve likelihood Models/gmm-demo --input points.json
              scoreserve likelihood Models/digits-vp --input test.npy --dequantize 4
            """)

    @Argument(help: "The model directory.") var modelDirectory: String
    @OptionGroup var engineOptions: EngineOptions
    @Argument(parsing: .allUnrecognized, help: "The request's fields (see Fields above).") var fields: [String] = []

    func run() throws {
        let model = try loadModel(modelDirectory)
        let values = try FieldFlags.parse(fields, .likelihood, model: model)
        let plan = try resolve { () throws(SamplingError) in try LikelihoodPlan(model, LikelihoodOptions(values)) }
        let (result, elapsed) = try engineOptions.run(plan, values: values, label: "likelihood")
        try emit(Answer.likelihood(result, plan: plan, elapsedMs: elapsed), points: result.latents.map { Float($0) },
                 shape: model.data.shape, format: engineOptions.resolvedFormat, output: engineOptions.output)
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Map points to prior latents along the probability-flow ODE.",
        discussion: """
            Integrates from eps to T (rk45). Decoding the latents with
            `sample --sampler ode --denoise false --latents FILE` and the same --eps returns
            the points within the tolerances. The output is the JSON object
            POST /v1/models/{name}/encode answers.

            Fields:
            \(FieldFlags.help(.encode))

            Example:
              scoreserve encode Models/gmm-demo --input points.json --rtol 1e-6 --atol 1e-6
            """)

    @Argument(help: "The model directory.") var modelDirectory: String
    @OptionGroup var engineOptions: EngineOptions
    @Argument(parsing: .allUnrecognized, help: "The request's fields (see Fields above).") var fields: [String] = []

    func run() throws {
        let model = try loadModel(modelDirectory)
        let values = try FieldFlags.parse(fields, .encode, model: model)
        let plan = try resolve { () throws(SamplingError) in try EncodePlan(model, EncodeOptions(values)) }
        let (result, elapsed) = try engineOptions.run(plan, values: values, label: "encoding")
        try emit(Answer.encode(result, model: model, elapsedMs: elapsed), points: result.latents.map { Float($0) },
                 shape: model.data.shape, format: engineOptions.resolvedFormat, output: engineOptions.output)
    }
}
