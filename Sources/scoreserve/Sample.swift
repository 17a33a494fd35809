import ArgumentParser
import Foundation
import ScoreCore
import ScoreJSON
import ScoreSampling

/// Flags shared by the commands that run the engine.
struct EngineOptions: ParsableArguments {
    @Option(help: "Worker threads (default: the container's CPU limit, or all cores).")
    var threads: Int?

    @Option(help: "Output: json (the API's answer), csv or npy (points only); default: npy or csv when --output ends in .npy or .csv, else json.")
    var format: OutputFormat?

    @Option(help: "Write the output to this file instead of stdout.")
    var output: String?

    @Option(help: "Deadline in milliseconds; past it the job stops with an error.")
    var timeoutMs: Int?

    /// `--format`, or what `--output`'s extension names.
    var resolvedFormat: OutputFormat {
        if let format { return format }
        if let output, output.hasSuffix(".npy") { return .npy }
        if let output, output.hasSuffix(".csv") { return .csv }
        return .json
    }

    func engine() -> SamplingEngine {
        let count = threads ?? CPULimit.available()
        if let warning = BLAS.concurrencyWarning(threads: count) {
            FileHandle.standardError.write(Data("scoreserve: warning: \(warning)\n".utf8))
        }
        return SamplingEngine(threads: count)
    }
}

/// Runs an engine call with a progress bar and maps its errors to CLI errors.
func runJob<T>(label: String, timeoutMs: Int?, _ work: (JobControl) throws(SamplingError) -> T) throws -> T {
    if let timeoutMs, timeoutMs <= 0 { throw ValidationError("--timeout-ms must be positive") }
    let progress = JobProgress()
    let bar = ProgressBar(label: label)
    bar.start(progress)
    defer { bar.stop() }
    do {
        return try work(JobControl(deadline: timeoutMs.map { .now() + .milliseconds($0) }, progress: progress))
    } catch {
        throw ValidationError("\(error)")
    }
}

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw samples from a model.",
        discussion: """
            Every field of POST /v1/models/{name}/sample is a flag of the same name in
            kebab-case; the output is the same JSON object the API answers.

            Examples:
              scoreserve sample Models/gmm-demo --n 1000 --seed 42
              scoreserve sample Models/gmm-demo --sampler ode --method rk45 --log-likelihood
              scoreserve sample Models/gmm-demo --sampler dpm-solver --steps 20 --output s.npy
              scoreserve sample Models/gmm-demo --n 1000000 --seed 7 --shard 2/8 --output part-2.npy
            """)

    @Argument(help: "The model directory.") var modelDirectory: String
    @Option(help: "Number of samples.") var n: Int = 1
    @Option(help: "Seed, 0 … 2^63−1 (default: random; the answer echoes it).") var seed: UInt64?
    @Option(help: "Index of the first sample of the seed's sequence.") var offset: UInt64 = 0
    @Option(help: ArgumentHelp("Draw shard I of K (0-based) of the --n samples: samples I·⌊n/K⌋ … of the seed's sequence, the last shard taking the remainder; needs --seed.",
                               valueName: "I/K")) var shard: String?
    @Option(help: "euler_maruyama, reverse_diffusion, ancestral, pc, ode or dpm_solver.") var sampler: String = "pc"
    @Option(help: "Time steps (default 1000; dpm_solver 20).") var steps: Int?
    @Option(help: "Predictor of pc: euler_maruyama, reverse_diffusion, ancestral.") var predictor: String?
    @Option(help: "Corrector of pc: annealed_langevin, langevin, none.") var corrector: String?
    @Option(help: "Corrector signal-to-noise ratio (0.16).") var snr: Double?
    @Option(help: "Corrector steps per time step (1).") var correctorSteps: Int?
    @Option(help: "ODE method: euler, heun, rk4, rk45.") var method: String?
    @Option(help: "rk45 relative tolerance (1e-5).") var rtol: Double?
    @Option(help: "rk45 absolute tolerance (1e-5).") var atol: Double?
    @Option(help: "dpm_solver order, 1–3 (3).") var order: Int?
    @Option(help: "Return the noise-free last step (true unless --log-likelihood).") var denoise: Bool?
    @Option(help: "Smallest time (default: the model's sampling eps).") var eps: Double?
    @Flag(help: "With --sampler ode: also return each sample's log-likelihood.") var logLikelihood = false
    @Option(help: "Divergence estimator with --log-likelihood: exact or hutchinson.") var estimator: String?
    @Option(help: "Hutchinson probes: rademacher or gaussian.") var noise: String?
    @Option(help: "Hutchinson probes per evaluation (1).") var probes: Int?
    @Option(help: "File of prior latents (model space) to decode with ode or dpm_solver.") var latents: String?
    @OptionGroup var engineOptions: EngineOptions

    func run() throws {
        let model = try loadModel(modelDirectory)
        var o = SampleOptions()
        o.n = n
        o.seed = seed ?? UInt64.random(in: 0...UInt64(Int64.max))
        o.offset = offset
        if let shard {
            guard seed != nil else { throw ValidationError("--shard needs --seed: every shard must draw from the same sequence") }
            guard latents == nil, corrector != "langevin" else {
                throw ValidationError("--shard cannot be combined with --latents or --corrector langevin (their samples depend on the whole request)")
            }
            let part = try Shard(shard, total: n)
            let (start, overflow) = o.offset.addingReportingOverflow(UInt64(part.offset))
            guard !overflow else { throw ValidationError("--offset plus the shard's first sample overflows") }
            o.offset = start
            o.n = part.size
        }
        o.sampler = try parseEnum(sampler, "--sampler")
        o.steps = steps
        o.predictor = try predictor.map { try parseEnum($0, "--predictor") }
        o.corrector = try corrector.map { try parseEnum($0, "--corrector") }
        o.snr = snr
        o.correctorSteps = correctorSteps
        o.method = try method.map { try parseEnum($0, "--method") }
        o.rtol = rtol
        o.atol = atol
        o.order = order
        o.denoise = denoise
        o.eps = eps
        o.logLikelihood = logLikelihood
        o.estimator = try estimator.map { try parseEnum($0, "--estimator") }
        o.noise = try noise.map { try parseEnum($0, "--noise") }
        o.probes = probes
        if let latents {
            do { o.latents = try PointsFile.read(path: latents, dimension: model.data.dimension) } catch {
                throw ValidationError("--latents: \(error)")
            }
        }
        let engine = engineOptions.engine()
        let options = o
        let start = DispatchTime.now()
        let result = try runJob(label: "sampling", timeoutMs: engineOptions.timeoutMs) { control throws(SamplingError) in
            try engine.sampleBlocking(model, options, control: control)
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        var answer = JSONObject([
            "model": .string(model.name), "n": .integer(Int64(result.nfe.count)),
            "seed": .integer(Int64(result.seed)),
            "shape": .array(model.data.shape.map { .integer(Int64($0)) }),
            "samples": JSONValue.points(result.samples, shape: model.data.shape),
            "nfe": .array(result.nfe.map { .integer(Int64($0)) }),
        ])
        if let ll = result.logLikelihood, let bpd = result.bitsPerDim {
            answer["log_likelihood"] = .array(ll.map { .number($0) })
            answer["bits_per_dim"] = .array(bpd.map { .number($0) })
        }
        answer["elapsed_ms"] = .number((elapsed * 1000).rounded() / 1000)
        try emit(answer, points: result.samples, shape: model.data.shape,
                 format: engineOptions.resolvedFormat, output: engineOptions.output)
    }
}

/// Parses an API enum value; dashes are accepted for underscores (dpm-solver).
func parseEnum<T: RawRepresentable & CaseIterable>(_ text: String, _ flag: String) throws -> T where T.RawValue == String {
    let value = text.replacingOccurrences(of: "-", with: "_")
    guard let parsed = T(rawValue: value) else {
        throw ValidationError("\(flag): expected one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
    }
    return parsed
}
