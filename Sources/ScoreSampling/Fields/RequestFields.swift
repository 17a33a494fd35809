import ScoreCore

/// The limits the request-field table's ranges depend on: the engine's own, or a
/// server's tighter ones.
public struct FieldLimits: Sendable, Equatable {
    public var maxN = 1_000_000
    public var maxSteps = 10_000_000
    public var maxPoints = 1_000_000
    public var maxTimeoutMs = Int(Int32.max)
    /// The deadline a request without `timeout_ms` gets, if any.
    public var defaultTimeoutMs: Int?

    public init() {}
    public init(maxN: Int, maxSteps: Int, maxPoints: Int, maxTimeoutMs: Int, defaultTimeoutMs: Int?) {
        self.maxN = maxN
        self.maxSteps = maxSteps
        self.maxPoints = maxPoints
        self.maxTimeoutMs = maxTimeoutMs
        self.defaultTimeoutMs = defaultTimeoutMs
    }

    /// The engine's own limits.
    public static let engine = FieldLimits()
}

/// The table of request fields: every field of every operation, each one row. The
/// samplers add their own rows (`Samplers.ownFields`).
public enum RequestFields {
    /// The rows of `operation`, in documentation order.
    public static func table(_ operation: Operation, limits: FieldLimits = .engine) -> [RequestField] {
        if limits == .engine, let rows = engineTables[operation] { return rows }
        return (common(limits) + Samplers.ownFields).filter { $0.operations.contains(operation) }
    }

    /// The engine's tables, built once: requests read them on every call.
    private static let engineTables: [Operation: [RequestField]] = Dictionary(uniqueKeysWithValues: Operation.allCases.map { op in
        (op, (common(.engine) + Samplers.ownFields).filter { $0.operations.contains(op) })
    })
    private static let engineRows: [Operation: [String: RequestField]] = engineTables.mapValues { rows in
        Dictionary(rows.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The row of `name` in `operation`'s table (engine limits), for the engine's reads.
    static func row(_ name: String, _ operation: Operation) -> RequestField {
        engineRows[operation]![name]!
    }

    /// Whether `operation`'s table has a row `name`.
    static func has(_ name: String, _ operation: Operation) -> Bool {
        engineRows[operation]![name] != nil
    }

    /// Largest `offset`: 2^53 − 1, so every sample index stays exact as a JSON number.
    static let maxOffset = Int64(NoiseKey.maxIndex)

    // The shared rows. Sampler-specific ones (`samplerSpecific`) apply on `sample` only to
    // samplers that list them in `sharedFields`.
    private static func common(_ l: FieldLimits) -> [RequestField] {
        let steps = Samplers.stepDefaults(otherThan: 1000).map { "\($0.name): \($0.steps)" }.joined(separator: "; ")
        let timeoutDefault = l.defaultTimeoutMs.map { " (default \($0))" } ?? " (default none)"
        let tolerance = NumberRange.open(0, 1)
        return [
            RequestField("n", .integer(1...Int64(l.maxN)), default: 1, operations: [.sample],
                         "Number of samples (default 1); with `latents`, their count."),
            RequestField("seed", .integer(0...Int64.max), operations: [.sample],
                         "Seed (default random; the answer echoes it): sample i is a pure function of (model, parameters, seed, i)."),
            RequestField("offset", .integer(0...maxOffset), default: 0, operations: [.sample],
                         "Index of the first sample: the answer holds samples offset … offset+n−1 of the seed's sequence (default 0), so shards reproduce one large request; a 400 for samplers whose samples depend on n, and with `latents`."),
            RequestField("sampler", .choice(Samplers.names), default: .string(Samplers.defaultName), operations: [.sample],
                         "Sampler (default \(Samplers.defaultName)): " + Samplers.summaries.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ") + "."),
            RequestField("steps", .integer(1...Int64(l.maxSteps)), operations: [.sample],
                         "Time steps of fixed-step samplers (default 1000\(steps.isEmpty ? "" : "; " + steps)); SDE samplers and pc evaluate at linspace(T, eps, steps), fixed-step ODE methods take `steps` equal intervals."),
            RequestField("x", .points(maxCount: l.maxPoints), operations: [.likelihood, .encode, .score], required: true,
                         flag: "input", "Points in data space."),
            RequestField("t", .times(.openClosed(0, 1)), operations: [.score], required: true,
                         "Time in (0, 1]: one number for every point, or an array of times, one per point."),
            RequestField("latents", .points(maxCount: l.maxPoints), operations: [.sample], samplerSpecific: true,
                         "Prior latents x(T) in model space to decode deterministically; n is then their count (default none)."),
            RequestField("estimator", .choice(DivergenceEstimator.allCases.map(\.rawValue)),
                         operations: [.sample, .likelihood], samplerSpecific: true,
                         "Divergence by the exact trace or the Hutchinson–Skilling estimator (default exact when D ≤ 16, else hutchinson)."),
            RequestField("noise", .choice(ProbeNoise.allCases.map(\.rawValue)), default: .string(ProbeNoise.rademacher.rawValue),
                         operations: [.sample, .likelihood], samplerSpecific: true,
                         "Hutchinson probe distribution (default \(ProbeNoise.rademacher.rawValue))."),
            RequestField("probes", .integer(1...256), default: 1, operations: [.sample, .likelihood], samplerSpecific: true,
                         "Hutchinson probes per evaluation (default 1)."),
            RequestField("rtol", .number(tolerance), default: 1e-5, operations: [.sample, .likelihood, .encode],
                         samplerSpecific: true, "Relative tolerance of the adaptive ODE solver (default 1e-5)."),
            RequestField("atol", .number(tolerance), default: 1e-5, operations: [.sample, .likelihood, .encode],
                         samplerSpecific: true, "Absolute tolerance of the adaptive ODE solver (default 1e-5)."),
            RequestField("denoise", .boolean, operations: [.sample],
                         "Return a noise-free answer: the mean of the last step, or one extra Tweedie step (x + σ_eps² s(x, eps))/a_eps where a sampler ends on a noisy state (+1 nfe). Default true; false with log_likelihood (true with it is a 400)."),
            RequestField("eps", .number(.open(0, 1)), operations: [.sample],
                         "Smallest time (default: the model's sampling eps)."),
            RequestField("eps", .number(.open(0, 1)), operations: [.likelihood],
                         "Smallest time (default: the model's likelihood eps)."),
            RequestField("eps", .number(.open(0, 1)), operations: [.encode],
                         "Start time of the probability-flow ODE, integrated from eps to T (default: the model's likelihood eps)."),
            RequestField("seed", .integer(0...Int64.max), operations: [.likelihood],
                         "Seed of the Hutchinson probes and dequantization draws (default random; the answer echoes it)."),
            RequestField("dequantize", .integer(0...1000), default: 0, operations: [.likelihood],
                         "Number of uniform dequantization draws to average (needs the model's levels); 0 = none (default)."),
            RequestField("timeout_ms", .integer(1...Int64(l.maxTimeoutMs)), operations: Set(Operation.allCases),
                         "Deadline in milliseconds\(timeoutDefault); past it the answer is 504 and the work is stopped."),
        ]
    }
}
