import ScoreCore
import ScoreJSON
import ScoreSampling

/// The JSON answers of the inference operations, field order included. The API sends
/// them and the CLI prints them: the same request gives the same JSON from both.
public enum Answer {
    /// `POST …/sample`: samples nested to the model's shape, in data space.
    public static func sample(_ s: SampleResult, model: ScoreModel, elapsedMs: Double) -> JSONObject {
        var answer = JSONObject([
            "model": .string(model.name), "n": .integer(Int64(s.nfe.count)),
            "seed": .integer(Int64(s.seed)),
            "shape": .array(model.data.shape.map { .integer(Int64($0)) }),
            "samples": JSONValue.points(s.samples, shape: model.data.shape),
            "nfe": integers(s.nfe),
        ])
        if let ll = s.logLikelihood, let bpd = s.bitsPerDim {
            answer["log_likelihood"] = numbers(ll)
            answer["bits_per_dim"] = numbers(bpd)
        }
        answer["elapsed_ms"] = .number(elapsedMs)
        return answer
    }

    /// `POST …/likelihood`: Float64 log-likelihoods and latents, and the seed used.
    public static func likelihood(_ l: LikelihoodResult, plan: LikelihoodPlan, elapsedMs: Double) -> JSONObject {
        JSONObject([
            "log_likelihood": numbers(l.logLikelihood),
            "bits_per_dim": numbers(l.bitsPerDim),
            "latents": JSONValue.points(l.latents, shape: plan.model.data.shape),
            "nfe": integers(l.nfe),
            "seed": .integer(Int64(plan.seed)),
            "elapsed_ms": .number(elapsedMs),
        ])
    }

    /// `POST …/encode`: Float64 latents, so decoding round-trips.
    public static func encode(_ e: EncodeResult, model: ScoreModel, elapsedMs: Double) -> JSONObject {
        JSONObject([
            "latents": JSONValue.points(e.latents, shape: model.data.shape),
            "nfe": integers(e.nfe),
            "elapsed_ms": .number(elapsedMs),
        ])
    }

    /// `POST …/score`: model-space scores nested to the model's shape.
    public static func score(_ s: ScoreResult, model: ScoreModel) -> JSONObject {
        JSONObject(["score": JSONValue.points(s.scores, shape: model.data.shape)])
    }

    /// A `progress` event of an event stream.
    public static func progress(_ p: ProgressReport) -> JSONObject {
        var o = JSONObject([
            "fraction": .number((p.fraction * 1e4).rounded() / 1e4),
            "steps_done": .integer(Int64(p.stepsDone)), "steps_total": .integer(Int64(p.stepsTotal)),
            "elapsed_s": .number((p.elapsedSeconds * 1e3).rounded() / 1e3),
        ])
        if let r = p.remainingSeconds { o["remaining_s"] = .number((r * 1e3).rounded() / 1e3) }
        return o
    }

    /// Milliseconds since `start` (uptime nanoseconds), to the microsecond.
    public static func elapsedMs(since start: UInt64, now: UInt64) -> Double {
        (Double(now - start) / 1e3).rounded() / 1e3
    }

    private static func numbers(_ values: [Double]) -> JSONValue { .array(values.map { .number($0) }) }
    private static func integers(_ values: [Int]) -> JSONValue { .array(values.map { .integer(Int64($0)) }) }
}
