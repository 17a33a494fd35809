import ScoreCore

/// A sampling request resolved once for a model: every default filled in, every field
/// checked, the sampler configured. The API prices it for admission and the engine
/// runs it as it is.
public struct SamplePlan: Sendable {
    public let model: ScoreModel
    public let n: Int
    /// The seed used (drawn at random when the request had none).
    public let seed: UInt64
    public let offset: UInt64
    /// Prior latents to decode instead of prior draws, [n × D] (model space).
    public let latents: [Double]?
    let sampler: any Sampler

    /// The sampler's name.
    public var samplerName: String { type(of: sampler).name }

    /// Work units for admission: samples × network evaluations (tangents included).
    public var cost: Int {
        let perSample = sampler.evaluationsPerSample.multipliedReportingOverflow(by: 1 + sampler.tangentsPerEvaluation)
        let total = n.multipliedReportingOverflow(by: perSample.partialValue)
        return perSample.overflow || total.overflow ? .max : total.partialValue
    }

    /// Whether the samples depend on the whole request (`n`), so shards would differ
    /// from one large request.
    public var couplesSamples: Bool { sampler.chunking == .wholeRequest }

    /// Whether every row is evaluated at the same times (step for step).
    public var rowsShareTimes: Bool { sampler.chunking != .adaptive }

    /// Whether the answer carries log-likelihoods.
    public var returnsLogLikelihood: Bool { sampler.returnsLogLikelihood }

    /// Fills in the defaults of the contract and validates every field against `model`.
    public init(_ model: ScoreModel, _ options: SampleOptions) throws(SamplingError) {
        let values = options.values
        try values.rejectUnknown(.sample)
        let table = RequestFields.table(.sample)
        func row(_ name: String) -> RequestField { RequestFields.row(name, .sample) }
        let samplerName = try values.string(row("sampler")) ?? Samplers.defaultName
        guard let kind = SamplerRegistry.named(samplerName) else {
            throw .invalidArgument(field: "sampler", message: "unknown sampler \"\(samplerName)\"")
        }
        // A sampler-specific field given to a sampler that does not take it is a 400: a
        // field that silently did nothing would mislead.
        for field in table where field.samplerSpecific && values.has(field) {
            let takes = kind.sharedFields.contains(field.name) || kind.ownFields.contains { $0.name == field.name }
            if !takes {
                throw .invalidArgument(field: field.name, message: "only applies to \(Samplers.applicability(of: field.name))")
            }
        }

        let d = model.data.dimension
        var n = try values.int(row("n"))!
        let latents = try values.points(row("latents"))
        let offset = try values.uint64(row("offset"))!
        if let latents {
            try check(latents.count % d == 0, "latents", "expected points of \(d) values each")
            try check(latents.allSatisfy(\.isFinite), "latents", "must be finite numbers")
            try check(offset == 0, "offset", "cannot be combined with latents")
            try check(!values.has(row("n")) || n == latents.count / d, "n",
                      "must equal the number of latents (\(latents.count / d)) or be left out")
            n = latents.count / d
        }
        try check(n >= 1 && n <= SampleOptions.maxN, "n", "must be between 1 and \(SampleOptions.maxN), got \(n)")
        try check(offset <= NoiseKey.maxIndex && UInt64(n) <= NoiseKey.maxIndex + 1 - offset, "offset",
                  "offset + n must not pass 2^53")
        let seed = try values.uint64(row("seed")) ?? UInt64.random(in: 0...UInt64(Int64.max))
        let steps = try values.int(row("steps"))
        let eps = try values.double(row("eps")) ?? model.sde.samplingEps
        try checkEps(eps, model.sde)

        let request = SampleRequest(model: model, values: values, n: n, seed: seed, offset: offset,
                                    steps: steps ?? kind.defaultSteps, stepsGiven: steps != nil, eps: eps,
                                    denoise: try values.bool(row("denoise")))
        let sampler = try kind.init(request)
        if sampler.chunking == .wholeRequest {
            try check(offset == 0, "offset", "cannot be combined with a sampler whose samples depend on n")
        }
        self.model = model
        self.n = n
        self.seed = seed
        self.offset = offset
        self.latents = latents
        self.sampler = sampler
    }
}

func check(_ ok: Bool, _ field: String, _ message: @autoclosure () -> String) throws(SamplingError) {
    if !ok { throw .invalidArgument(field: field, message: message()) }
}

/// Rejects data-space points the model's data map cannot take (a logit transform's
/// range), naming the first such value; `reach` is how far dequantization may add.
func checkDomain(_ x: [Double], _ data: DataSpec, reach: Double = 0) throws(SamplingError) {
    guard data.domain != nil else { return }
    let d = data.dimension
    for (i, v) in x.enumerated() {
        if let problem = data.domainProblem(v, reach: reach) {
            throw .invalidArgument(field: "x", message: "value \(i % d) of point \(i / d): \(problem)")
        }
    }
}

func checkEps(_ eps: Double, _ sde: SDE) throws(SamplingError) {
    try check(eps.isFinite && eps > 0 && eps < sde.T, "eps", "must be in (0, \(sde.T)), got \(eps)")
}
