import ArgumentParser
import Foundation
import ScoreCore
import ScoreJSON
import ScoreSampling

struct Likelihood: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log-likelihoods of points by the probability-flow ODE.",
        discussion: """
            Integrates the instantaneous change of variables from eps to T (rk45). The
            number is log p_eps(x) + log π(z) − log p_T(z) in nats in data space (π the
            prior, z the latent), as POST /v1/models/{name}/likelihood answers.

            Examples:
              scoreserve likelihood Models/gmm-demo --input points.json
              scoreserve likelihood Models/digits-vp --input test.npy --dequantize 4
            """)

    @Argument(help: "The model directory.") var modelDirectory: String
    @Option(help: "Points in data space (.json, .csv or .npy).") var input: String
    @Option(help: "exact (default when D ≤ 16) or hutchinson.") var estimator: String?
    @Option(help: "Hutchinson probes: rademacher or gaussian.") var noise: String?
    @Option(help: "Hutchinson probes per evaluation (1).") var probes: Int?
    @Option(help: "rk45 relative tolerance.") var rtol: Double = 1e-5
    @Option(help: "rk45 absolute tolerance.") var atol: Double = 1e-5
    @Option(help: "Smallest time (default: the model's likelihood eps).") var eps: Double?
    @Option(help: "Seed of the probes and dequantization noise (default: random).") var seed: UInt64?
    @Option(help: "Uniform dequantization draws to average (needs data.levels).") var dequantize: Int = 0
    @OptionGroup var engineOptions: EngineOptions

    func run() throws {
        let model = try loadModel(modelDirectory)
        var o = LikelihoodOptions()
        do { o.x = try PointsFile.read(path: input, dimension: model.data.dimension) } catch {
            throw ValidationError("--input: \(error)")
        }
        o.estimator = try estimator.map { try parseEnum($0, "--estimator") }
        o.noise = try noise.map { try parseEnum($0, "--noise") }
        o.probes = probes
        o.rtol = rtol
        o.atol = atol
        o.eps = eps
        o.seed = seed ?? UInt64.random(in: 0...UInt64(Int64.max))
        o.dequantize = dequantize
        let engine = engineOptions.engine()
        let options = o
        let start = DispatchTime.now()
        let result = try runJob(label: "likelihood", timeoutMs: engineOptions.timeoutMs) { control throws(SamplingError) in
            try engine.likelihoodBlocking(model, options, control: control)
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        let latents = result.latents.map { Float($0) }
        let answer = JSONObject([
            "log_likelihood": .array(result.logLikelihood.map { .number($0) }),
            "bits_per_dim": .array(result.bitsPerDim.map { .number($0) }),
            "latents": JSONValue.points(latents, shape: model.data.shape),
            "nfe": .array(result.nfe.map { .integer(Int64($0)) }),
            "elapsed_ms": .number((elapsed * 1000).rounded() / 1000),
        ])
        try emit(answer, points: latents, shape: model.data.shape,
                 format: engineOptions.resolvedFormat, output: engineOptions.output)
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Map points to prior latents along the probability-flow ODE.",
        discussion: """
            Integrates from eps to T (rk45). Decoding the latents with
            `sample --sampler ode --denoise false --latents FILE` and the same --eps returns
            the points within the tolerances.

            Example:
              scoreserve encode Models/gmm-demo --input points.json --rtol 1e-6 --atol 1e-6
            """)

    @Argument(help: "The model directory.") var modelDirectory: String
    @Option(help: "Points in data space (.json, .csv or .npy).") var input: String
    @Option(help: "rk45 relative tolerance.") var rtol: Double = 1e-5
    @Option(help: "rk45 absolute tolerance.") var atol: Double = 1e-5
    @Option(help: "Smallest time (default: the model's likelihood eps).") var eps: Double?
    @OptionGroup var engineOptions: EngineOptions

    func run() throws {
        let model = try loadModel(modelDirectory)
        var o = EncodeOptions()
        do { o.x = try PointsFile.read(path: input, dimension: model.data.dimension) } catch {
            throw ValidationError("--input: \(error)")
        }
        o.rtol = rtol
        o.atol = atol
        o.eps = eps
        let engine = engineOptions.engine()
        let options = o
        let result = try runJob(label: "encoding", timeoutMs: engineOptions.timeoutMs) { control throws(SamplingError) in
            try engine.encodeBlocking(model, options, control: control)
        }
        // Latents keep full Float64 precision in JSON so decoding round-trips.
        var rows: [JSONValue] = []
        let d = model.data.dimension
        for r in 0..<(result.latents.count / d) {
            rows.append(.array(result.latents[(r * d)..<((r + 1) * d)].map { .number($0) }))
        }
        let answer = JSONObject(["latents": .array(rows), "nfe": .array(result.nfe.map { .integer(Int64($0)) })])
        try emit(answer, points: result.latents.map { Float($0) }, shape: model.data.shape,
                 format: engineOptions.resolvedFormat, output: engineOptions.output)
    }
}
