import ArgumentParser
import Foundation
import ScoreCore
import ScoreHTTP
import ScoreJSON
import ScoreSampling

/// Flags shared by the commands that run the engine (the request's own fields are
/// `FieldFlags`).
struct EngineOptions: ParsableArguments {
    @Option(help: "Worker threads (default: the container's CPU limit, or all cores).")
    var threads: Int?

    @Option(help: "Output: json (the API's answer), csv or npy (points only); default: npy or csv when --output ends in .npy or .csv, else json.")
    var format: OutputFormat?

    @Option(help: "Write the output to this file instead of stdout.")
    var output: String?

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

    /// Runs `plan` on a new engine with a progress bar, under the request's `timeout_ms`;
    /// returns the result and the elapsed milliseconds.
    func run<P: EnginePlan>(_ plan: P, values: FieldValues, label: String) throws -> (P.Output, Double) {
        let engine = engine()
        var deadline: DispatchTime?
        if case .integer(let ms)? = values["timeout_ms"] { deadline = .now() + .milliseconds(Int(ms)) }
        let progress = JobProgress()
        let bar = ProgressBar(label: label)
        bar.start(progress, nominalEvaluations: plan.nominalEvaluations, rows: plan.rows)
        defer { bar.stop() }
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let result = try engine.runBlocking(plan, control: JobControl(deadline: deadline, progress: progress))
            return (result, Answer.elapsedMs(since: start, now: DispatchTime.now().uptimeNanoseconds))
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// A request resolved for a model, with engine errors as CLI errors.
func resolve<P>(_ make: () throws(SamplingError) -> P) throws -> P {
    do throws(SamplingError) { return try make() } catch { throw ValidationError("\(error)") }
}

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw samples from a model.",
        discussion: """
            Every field of POST /v1/models/{name}/sample is a flag of the same name in
            kebab-case; the output is the same JSON object the API answers.

            Fields:
            \(FieldFlags.help(.sample))

            Examples:
              scoreserve sample Models/gmm-demo --n 1000 --seed 42
              scoreserve sample Models/gmm-demo --sampler ode --method rk45 --log-likelihood true
              scoreserve sample Models/gmm-demo --sampler dpm-solver --steps 20 --output s.npy
              scoreserve sample Models/gmm-demo --n 1000000 --seed 7 --shard 2/8 --output part-2.npy
            """)

    @Argument(help: "The model directory.") var modelDirectory: String
    @Option(help: ArgumentHelp("Draw shard I of K (0-based) of the --n samples: samples I·⌊n/K⌋ … of the seed's sequence, the last shard taking the remainder; needs --seed.",
                               valueName: "I/K")) var shard: String?
    @OptionGroup var engineOptions: EngineOptions
    @Argument(parsing: .allUnrecognized, help: "The request's fields (see Fields above).") var fields: [String] = []

    func run() throws {
        let model = try loadModel(modelDirectory)
        var options = SampleOptions(try FieldFlags.parse(fields, .sample, model: model))
        if let shard {
            guard options.seed != nil else { throw ValidationError("--shard needs --seed: every shard must draw from the same sequence") }
            let whole = try resolve { () throws(SamplingError) in try SamplePlan(model, options) }
            guard whole.latents == nil, !whole.couplesSamples else {
                throw ValidationError("--shard cannot be combined with --latents or a sampler whose samples depend on the whole request (corrector langevin)")
            }
            let part = try Shard(shard, total: whole.n)
            let (start, overflow) = whole.offset.addingReportingOverflow(UInt64(part.offset))
            guard !overflow else { throw ValidationError("--offset plus the shard's first sample overflows") }
            options.offset = start
            options.n = part.size
        }
        let plan = try resolve { () throws(SamplingError) in try SamplePlan(model, options) }
        let (result, elapsed) = try engineOptions.run(plan, values: options.values, label: "sampling")
        try emit(Answer.sample(result, model: model, elapsedMs: elapsed), points: result.samples,
                 shape: model.data.shape, format: engineOptions.resolvedFormat, output: engineOptions.output)
    }
}
