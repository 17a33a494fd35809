import Dispatch
import Foundation
import ScoreCore
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

extension ScoreAPI {
    private var limits: APILimits { configuration.limits }

    /// Work units of a resolved sampling request (samples × network evaluations).
    static func cost(_ o: ResolvedSampleOptions, dimension d: Int) -> Int {
        let perSample: Int
        switch o.sampler {
        case .eulerMaruyama, .reverseDiffusion, .ancestral, .pc: perSample = o.steps * (1 + o.correctorSteps)
        case .dpmSolver: perSample = o.steps
        case .ode: perSample = o.method == .rk45 ? 200 : o.steps * o.method.evaluationsPerStep
        }
        let tangents = o.logLikelihood ? (o.divergence.estimator == .exact ? d : o.divergence.probes) : 0
        return o.n.multipliedReportingOverflow(by: perSample * (1 + tangents)).partialValue
    }

    /// Admits `cost`, starts a job tied to the client and its deadline, and answers
    /// with `answer(result, elapsed milliseconds)` or the job's error.
    private func runJob<T: Sendable>(
        cost: Int, responder: HTTPResponder, timeoutMs: Int64?,
        start: (JobControl, @escaping @Sendable (Result<T, SamplingError>) -> Void) throws(SamplingError) -> Void,
        answer: @escaping @Sendable (T, Double) -> HTTPResponse
    ) throws {
        try admission.admit(cost)
        let progress = JobProgress()
        let submitted = DispatchTime.now().uptimeNanoseconds
        let control = control(for: responder, timeoutMs: timeoutMs, progress: progress)
        do {
            try start(control) { [self] result in
                admission.release(cost)
                finished(result, control: control, submitted: submitted, progress: progress)
                switch result {
                case .failure(let error): responder.respond(APIError(error).response)
                case .success(let value):
                    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - submitted) / 1e6
                    responder.respond(answer(value, (elapsed * 1000).rounded() / 1000))
                }
            }
        } catch {
            admission.release(cost)
            _ = jobs.withLock { $0.removeValue(forKey: ObjectIdentifier(control.token)) }
            throw error
        }
    }

    // MARK: POST /v1/models/{name}/sample

    func sample(_ request: HTTPRequest, _ responder: HTTPResponder) throws {
        let model = try model(request)
        var r = try RequestReader(body: request.body)
        var o = SampleOptions()
        o.n = Int(try r.int("n", 1...Int64(limits.maxN)) ?? 1)
        let seed = try r.int("seed", 0...Int64.max)
        o.seed = seed.map { UInt64($0) } ?? UInt64.random(in: 0...UInt64(Int64.max))
        o.offset = UInt64(try r.int("offset", 0...Int64(NoiseKey.maxIndex)) ?? 0)
        o.sampler = try r.choice("sampler", SamplerKind.self) ?? .pc
        o.steps = try r.int("steps", 1...Int64(limits.maxSteps)).map(Int.init)
        o.predictor = try r.choice("predictor", PredictorKind.self)
        o.corrector = try r.choice("corrector", CorrectorKind.self)
        o.snr = try r.number("snr")
        o.correctorSteps = try r.int("corrector_steps", 0...100).map(Int.init)
        o.method = try r.choice("method", ODEMethod.self)
        o.rtol = try r.number("rtol")
        o.atol = try r.number("atol")
        o.order = try r.int("order", 1...3).map(Int.init)
        o.denoise = try r.bool("denoise")
        o.eps = try r.number("eps")
        o.logLikelihood = try r.bool("log_likelihood") ?? false
        o.estimator = try r.choice("estimator", DivergenceEstimator.self)
        o.noise = try r.choice("noise", ProbeNoise.self)
        o.probes = try r.int("probes", 1...256).map(Int.init)
        o.latents = try r.points("latents", shape: model.data.shape, maxCount: limits.maxPoints)
        if o.latents != nil, r.value("n") != nil, let latents = o.latents,
           latents.count / model.data.dimension != o.n {
            throw APIError.invalid(field: "n", "must equal the number of latents (\(latents.count / model.data.dimension)) or be left out")
        }
        let timeout = try r.int("timeout_ms", 1...Int64(limits.maxTimeoutMs))
        try r.rejectUnknown()

        let resolved = try o.resolved(for: model)
        let npy = request.accepts("application/x-npy"), png = !npy && request.accepts("image/png")
        if png && Plot.imageLayout(model.data.shape) == nil {
            throw APIError(status: 406, code: "not_acceptable", message: """
                image/png needs an image model (data.shape [H, W], [1, H, W] or [3, H, W]); \
                '\(model.name)' has shape \(model.data.shape)
                """)
        }
        if png && (o.n > Self.maxGridImages || o.n * model.data.dimension * 4 > Self.maxGridValues) {
            throw APIError.invalid(field: "n", """
                image/png draws at most \(Self.maxGridImages) samples and \(Self.maxGridValues) pixel values \
                (n × \(model.data.dimension) × 4 at 2× scale); ask for fewer, or for JSON or .npy
                """)
        }
        let options = o
        try runJob(cost: Self.cost(resolved, dimension: model.data.dimension), responder: responder, timeoutMs: timeout,
                   start: { control, done throws(SamplingError) in
                       try engine.sample(model, options, control: control, completion: done)
                   }, answer: { [self] (s: SampleResult, elapsed) in
            metrics.addSamples(s.nfe.count)
            if npy {
                let body = NPY.encode(float32: s.samples, shape: [s.nfe.count] + model.data.shape)
                return HTTPResponse(status: 200, contentType: "application/x-npy", body: body,
                                    headers: [("X-Seed", String(s.seed)), ("Vary", "Accept")])
            }
            if png {
                return HTTPResponse(status: 200, contentType: "image/png", body: Self.grid(s.samples, model),
                                    headers: [("X-Seed", String(s.seed)), ("Vary", "Accept")])
            }
            var answer = JSONObject([
                "model": .string(model.name), "n": .integer(Int64(s.nfe.count)),
                "seed": .integer(Int64(s.seed)),
                "shape": .array(model.data.shape.map { .integer(Int64($0)) }),
                "samples": JSONValue.points(s.samples, shape: model.data.shape),
                "nfe": .array(s.nfe.map { .integer(Int64($0)) }),
            ])
            if let ll = s.logLikelihood, let bpd = s.bitsPerDim {
                answer["log_likelihood"] = .array(ll.map { .number($0) })
                answer["bits_per_dim"] = .array(bpd.map { .number($0) })
            }
            answer["elapsed_ms"] = .number(elapsed)
            // The format follows Accept: caches must key on it.
            var response = json(.object(answer))
            response.headers.append(("Vary", "Accept"))
            return response
        })
    }

    // MARK: POST /v1/models/{name}/likelihood

    func likelihood(_ request: HTTPRequest, _ responder: HTTPResponder) throws {
        let model = try model(request)
        var r = try RequestReader(body: request.body)
        var o = LikelihoodOptions()
        guard let x = try r.points("x", shape: model.data.shape, maxCount: limits.maxPoints) else {
            throw APIError.invalid(field: "x", "is required")
        }
        o.x = x
        o.estimator = try r.choice("estimator", DivergenceEstimator.self)
        o.noise = try r.choice("noise", ProbeNoise.self)
        o.probes = try r.int("probes", 1...256).map(Int.init)
        o.rtol = try r.number("rtol") ?? 1e-5
        o.atol = try r.number("atol") ?? 1e-5
        o.eps = try r.number("eps")
        let seed = try r.int("seed", 0...Int64.max)
        o.seed = seed.map { UInt64($0) } ?? UInt64.random(in: 0...UInt64(Int64.max))
        o.dequantize = Int(try r.int("dequantize", 0...1000) ?? 0)
        let timeout = try r.int("timeout_ms", 1...Int64(limits.maxTimeoutMs))
        try r.rejectUnknown()

        _ = try o.resolved(for: model)  // a bad request is a 400 even when the server is busy
        let d = model.data.dimension, n = x.count / d
        let tangents = (o.estimator ?? (d <= 16 ? .exact : .hutchinson)) == .exact ? d : (o.probes ?? 1)
        let cost = n.multipliedReportingOverflow(by: 200 * (1 + tangents) * max(1, o.dequantize)).partialValue
        let options = o
        try runJob(cost: cost, responder: responder, timeoutMs: timeout,
                   start: { control, done throws(SamplingError) in
                       try engine.likelihood(model, options, control: control, completion: done)
                   }, answer: { [self] (l: LikelihoodResult, elapsed) in
            return json(.object(JSONObject([
                "log_likelihood": .array(l.logLikelihood.map { .number($0) }),
                "bits_per_dim": .array(l.bitsPerDim.map { .number($0) }),
                "latents": Self.doublePoints(l.latents, shape: model.data.shape),
                "nfe": .array(l.nfe.map { .integer(Int64($0)) }),
                "seed": .integer(Int64(options.seed)),
                "elapsed_ms": .number(elapsed),
            ])))
        })
    }

    // MARK: POST /v1/models/{name}/encode

    func encode(_ request: HTTPRequest, _ responder: HTTPResponder) throws {
        let model = try model(request)
        var r = try RequestReader(body: request.body)
        var o = EncodeOptions()
        guard let x = try r.points("x", shape: model.data.shape, maxCount: limits.maxPoints) else {
            throw APIError.invalid(field: "x", "is required")
        }
        o.x = x
        o.rtol = try r.number("rtol") ?? 1e-5
        o.atol = try r.number("atol") ?? 1e-5
        o.eps = try r.number("eps")
        let timeout = try r.int("timeout_ms", 1...Int64(limits.maxTimeoutMs))
        try r.rejectUnknown()
        _ = try o.resolved(for: model)
        let options = o
        try runJob(cost: (x.count / model.data.dimension) * 200, responder: responder, timeoutMs: timeout,
                   start: { control, done throws(SamplingError) in
                       try engine.encode(model, options, control: control, completion: done)
                   }, answer: { [self] (e: EncodeResult, elapsed) in
            return json(.object(JSONObject([
                "latents": Self.doublePoints(e.latents, shape: model.data.shape),
                "nfe": .array(e.nfe.map { .integer(Int64($0)) }),
                "elapsed_ms": .number(elapsed),
            ])))
        })
    }

    // MARK: POST /v1/models/{name}/score

    func score(_ request: HTTPRequest, _ responder: HTTPResponder) throws {
        let model = try model(request)
        var r = try RequestReader(body: request.body)
        guard let x = try r.points("x", shape: model.data.shape, maxCount: limits.maxPoints) else {
            throw APIError.invalid(field: "x", "is required")
        }
        let n = x.count / model.data.dimension
        let times: [Double]
        switch r.value("t") {
        case nil: throw APIError.invalid(field: "t", "is required")
        case .array(let items)?:
            guard items.count == n else { throw APIError.invalid(field: "t", "has \(items.count) times for \(n) points") }
            times = try items.enumerated().map { i, v throws(APIError) in
                guard let d = v.doubleValue else { throw APIError.invalid(field: "t[\(i)]", "must be a number") }
                return d
            }
        case let v?:
            guard let d = v.doubleValue else { throw APIError.invalid(field: "t", "must be a number or an array of numbers") }
            times = Array(repeating: d, count: n)
        }
        if let i = times.firstIndex(where: { !($0 > 0 && $0 <= model.sde.T) }) {
            throw APIError.invalid(field: "t", "times must be in (0, \(model.sde.T)], got \(times[i])")
        }
        let timeout = try r.int("timeout_ms", 1...Int64(limits.maxTimeoutMs))
        try r.rejectUnknown()
        var options = ScoreOptions()
        options.x = x
        options.times = times
        let shape = model.data.shape
        try runJob(cost: n, responder: responder, timeoutMs: timeout,
                   start: { control, done throws(SamplingError) in
                       try engine.score(model, options, control: control, completion: done)
                   }, answer: { [self] (scores: [Float], _) in
            return json(.object(JSONObject(["score": JSONValue.points(scores, shape: shape)])))
        })
    }

    /// Float64 rows nested to `shape` (latents keep full precision so decoding round-trips).
    static func doublePoints(_ values: [Double], shape: [Int]) -> JSONValue {
        let d = shape.reduce(1, *)
        func nest(_ start: Int, _ shape: ArraySlice<Int>) -> JSONValue {
            guard let first = shape.first else { return .number(values[start]) }
            let inner = shape.dropFirst().reduce(1, *)
            return .array((0..<first).map { nest(start + $0 * inner, shape.dropFirst()) })
        }
        return .array((0..<(values.count / d)).map { nest($0 * d, shape[...]) })
    }
}
