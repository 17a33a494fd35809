import Dispatch
import Foundation
import ScoreCore
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

extension ScoreAPI {
    private var limits: APILimits { configuration.limits }

    /// The fields of an operation's request, read from the body by the request-field
    /// table with this server's limits.
    private func read(_ operation: ScoreSampling.Operation, _ request: HTTPRequest, _ model: ScoreModel) throws(APIError) -> FieldValues {
        try RequestReader.read(request.body, table: fieldTables[operation]!, shape: model.data.shape)
    }

    /// A request's `timeout_ms`, if given.
    func timeout(_ values: FieldValues) -> Int64? {
        if case .integer(let ms)? = values["timeout_ms"] { ms } else { nil }
    }

    /// Resolves a request for a model: a bad request is a 400 even when the server is busy.
    func plan<P>(_ make: () throws(SamplingError) -> P) throws(APIError) -> P {
        do throws(SamplingError) { return try make() } catch { throw APIError(error) }
    }

    /// Admits `cost`, starts a job tied to the client and its deadline, and answers
    /// with `answer(result, elapsed milliseconds)` or the job's error as `render` shapes it.
    func runJob<P: EnginePlan>(
        _ plan: P, responder: HTTPResponder, timeoutMs: Int64?,
        errors render: @escaping @Sendable (APIError) -> HTTPResponse = { $0.response },
        answer: @escaping @Sendable (P.Output, Double) -> HTTPResponse
    ) throws {
        let cost = plan.cost
        try admission.admit(cost)
        let progress = JobProgress()
        let submitted = DispatchTime.now().uptimeNanoseconds
        let control = control(for: responder, timeoutMs: timeoutMs, progress: progress)
        engine.submit(plan, control: control) { [self] result in
            admission.release(cost)
            finished(control: control, submitted: submitted, progress: progress)
            switch result {
            case .failure(let error): responder.respond(render(APIError(error)))
            case .success(let value):
                responder.respond(answer(value, Answer.elapsedMs(since: submitted, now: DispatchTime.now().uptimeNanoseconds)))
            }
        }
    }

    /// Runs a job answering plainly, or as an event stream when the request asks for one.
    private func run<P: EnginePlan>(_ plan: P, _ request: HTTPRequest, _ responder: HTTPResponder, timeoutMs: Int64?,
                                    answer: @escaping @Sendable (P.Output, Double) -> HTTPResponse) throws {
        if wantsEvents(request) {
            try streamJob(plan, responder: responder, timeoutMs: timeoutMs, answer: answer)
        } else {
            try runJob(plan, responder: responder, timeoutMs: timeoutMs, answer: answer)
        }
    }

    // MARK: POST /v1/models/{name}/sample

    func sample(_ request: HTTPRequest, _ responder: HTTPResponder) throws {
        let model = try model(request)
        let values = try read(.sample, request, model)
        let plan = try plan { () throws(SamplingError) in try SamplePlan(model, SampleOptions(values)) }
        let npy = request.accepts("application/x-npy"), png = !npy && request.accepts("image/png")
        if png && Plot.imageLayout(model.data.shape) == nil {
            throw APIError(status: 406, code: "not_acceptable", message: """
                image/png needs an image model (data.shape [H, W], [1, H, W] or [3, H, W]); \
                '\(model.name)' has shape \(model.data.shape)
                """)
        }
        if png && (plan.n > Self.maxGridImages || plan.n * model.data.dimension * 4 > Self.maxGridValues) {
            throw APIError.invalid(field: "n", """
                image/png draws at most \(Self.maxGridImages) samples and \(Self.maxGridValues) pixel values \
                (n × \(model.data.dimension) × 4 at 2× scale); ask for fewer, or for JSON or .npy
                """)
        }
        if wantsEvents(request) {
            try streamJob(plan, responder: responder, timeoutMs: timeout(values)) { [self] s, elapsed in
                metrics.addSamples(s.nfe.count)
                return json(.object(Answer.sample(s, model: model, elapsedMs: elapsed)))
            }
            return
        }
        try runJob(plan, responder: responder, timeoutMs: timeout(values)) { [self] s, elapsed in
            metrics.addSamples(s.nfe.count)
            // The format follows Accept: caches must key on it.
            if npy {
                let body = NPY.encode(float32: s.samples, shape: [s.nfe.count] + model.data.shape)
                return HTTPResponse(status: 200, contentType: "application/x-npy", body: body,
                                    headers: [("X-Seed", String(s.seed)), ("Vary", "Accept")])
            }
            if png {
                return HTTPResponse(status: 200, contentType: "image/png", body: Self.grid(s.samples, model),
                                    headers: [("X-Seed", String(s.seed)), ("Vary", "Accept")])
            }
            var response = json(.object(Answer.sample(s, model: model, elapsedMs: elapsed)))
            response.headers.append(("Vary", "Accept"))
            return response
        }
    }

    // MARK: POST /v1/models/{name}/likelihood

    func likelihood(_ request: HTTPRequest, _ responder: HTTPResponder) throws {
        let model = try model(request)
        let values = try read(.likelihood, request, model)
        let plan = try plan { () throws(SamplingError) in try LikelihoodPlan(model, LikelihoodOptions(values)) }
        try run(plan, request, responder, timeoutMs: timeout(values)) { [self] l, elapsed in
            json(.object(Answer.likelihood(l, plan: plan, elapsedMs: elapsed)))
        }
    }

    // MARK: POST /v1/models/{name}/encode

    func encode(_ request: HTTPRequest, _ responder: HTTPResponder) throws {
        let model = try model(request)
        let values = try read(.encode, request, model)
        let plan = try plan { () throws(SamplingError) in try EncodePlan(model, EncodeOptions(values)) }
        try run(plan, request, responder, timeoutMs: timeout(values)) { [self] e, elapsed in
            json(.object(Answer.encode(e, model: model, elapsedMs: elapsed)))
        }
    }

    // MARK: POST /v1/models/{name}/score

    func score(_ request: HTTPRequest, _ responder: HTTPResponder) throws {
        let model = try model(request)
        let values = try read(.score, request, model)
        let plan = try plan { () throws(SamplingError) in try ScorePlan(model, ScoreOptions(values)) }
        try runJob(plan, responder: responder, timeoutMs: timeout(values)) { [self] s, _ in
            return json(.object(Answer.score(s, model: model)))
        }
    }
}
