import Foundation
import ScoreCore
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

/// The Open Inference Protocol (KServe V2) REST routes beside `/v1`: server and model
/// metadata and readiness, and `infer`, which runs one task (`sample`, `likelihood`,
/// `encode`, `score`) through the same plans, admission and engine as `/v1`, so the same
/// request gives the same numbers. Inputs and outputs follow `InferenceTensors`; the
/// binary tensor extension is read and written. Errors are `{"error": "…"}` with `/v1`'s
/// statuses.
extension ScoreAPI {
    /// The one model version ScoreServe serves of each model.
    static let v2Version = "1"

    static let v2Routes = [
        "/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{name}", "/v2/models/{name}/versions/{version}",
        "/v2/models/{name}/ready", "/v2/models/{name}/versions/{version}/ready", "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
    ]

    func addV2Routes() {
        router.add("GET", "/v2") { [unowned self] req, r in
            self.v2(req, r, post: false) {
                r.respond(self.json(.object(JSONObject([
                    "name": .string("scoreserve"), "version": .string(Self.version),
                    "extensions": .array([.string("binary_tensor_data")]),
                ]))))
            }
        }
        router.add("GET", "/v2/health/live") { [unowned self] _, r in
            r.respond(self.json(.object(JSONObject(["live": .bool(true)]))))
        }
        router.add("GET", "/v2/health/ready") { [unowned self] _, r in
            let ready = self.state.isReady
            r.respond(self.json(.object(JSONObject(["ready": .bool(ready)])), status: ready ? 200 : 503))
        }
        for prefix in ["/v2/models/{name}", "/v2/models/{name}/versions/{version}"] {
            router.add("GET", prefix) { [unowned self] req, r in
                self.v2(req, r, post: false) { r.respond(self.json(.object(try self.v2Metadata(self.v2Model(req))))) }
            }
            router.add("GET", prefix + "/ready") { [unowned self] req, r in
                self.v2(req, r, post: false) {
                    let model = try self.v2Model(req), ready = self.state.isReady
                    r.respond(self.json(.object(JSONObject(["name": .string(model.name), "ready": .bool(ready)])),
                                        status: ready ? 200 : 503))
                }
            }
            router.add("POST", prefix + "/infer") { [unowned self] req, r in
                self.v2(req, r, post: true) { try self.infer(req, r) }
            }
        }
    }

    /// Runs a `/v2` handler: the checks of `/v1` (an untyped or octet-stream body allowed);
    /// errors answer in the protocol's shape.
    private func v2(_ request: HTTPRequest, _ responder: HTTPResponder, post: Bool, _ body: () throws -> Void) {
        do {
            try check(request, post: post, binary: true)
            try body()
        } catch {
            responder.respond(Self.apiError(error).v2Response)
        }
    }

    /// The model of the path, whose version (if named) must be the one served.
    private func v2Model(_ request: HTTPRequest) throws(APIError) -> ScoreModel {
        let model = try model(request)
        if let version = request.parameters["version"], version != Self.v2Version {
            throw APIError(.notFound, "model '\(model.name)' has version \(Self.v2Version) only, not '\(version)'")
        }
        return model
    }

    /// Model metadata: its inputs and outputs with datatypes and shapes (−1: the count).
    private func v2Metadata(_ model: ScoreModel) -> JSONObject {
        func tensors(_ list: [InferenceTensors.Tensor]) -> JSONValue {
            .array(list.map { t in
                .object(JSONObject([
                    "name": .string(t.name), "datatype": .string(t.datatype.rawValue),
                    "shape": .array(t.metadataShape(model.data.shape).map { .integer(Int64($0)) }),
                    "parameters": .object(JSONObject(["tasks": .array(ScoreSampling.Operation.allCases
                        .filter(t.tasks.contains).map { .string($0.rawValue) })])),
                ]))
            })
        }
        return JSONObject([
            "name": .string(model.name), "versions": .array([.string(Self.v2Version)]), "platform": .string("scoreserve"),
            "inputs": tensors(InferenceTensors.inputs), "outputs": tensors(InferenceTensors.outputs),
        ])
    }

    // MARK: POST /v2/models/{name}[/versions/{v}]/infer

    private func infer(_ request: HTTPRequest, _ responder: HTTPResponder) throws {
        let model = try v2Model(request)
        let shape = model.data.shape, d = model.data.dimension
        var headerLength: Int?
        if let text = request.header("inference-header-content-length") {
            guard let n = Int(text.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                throw APIError.invalid("Inference-Header-Content-Length must be a byte count, got '\(text)'")
            }
            headerLength = n
        }
        let maxPoints = configuration.limits.fields.maxPoints
        let (elements, over) = maxPoints.multipliedReportingOverflow(by: d)
        let body = try InferenceRequest.parse(request.body, headerLength: headerLength, maxElements: over ? .max : elements)

        // The task, then every parameter by the task's request-field table.
        var task = ScoreSampling.Operation.sample
        if let value = body.parameters.first(where: { $0.0 == InferenceTensors.taskParameter })?.1 {
            guard case .string(let name) = value, let t = ScoreSampling.Operation(rawValue: name) else {
                throw APIError.invalid(field: "parameters.task", "must be one of \(ScoreSampling.Operation.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
            }
            task = t
        }
        let table = fieldTables[task]!
        var values = FieldValues()
        for (name, value) in body.parameters where name != InferenceTensors.taskParameter {
            if name == "timeout" {
                // The protocol's own deadline, in microseconds.
                guard case .integer(let us) = value, us > 0 else {
                    throw APIError.invalid(field: "parameters.timeout", "must be a positive number of microseconds")
                }
                values["timeout_ms"] = try table.first { $0.name == "timeout_ms" }!.check(.integer(Swift.max(1, us / 1000)))
                continue
            }
            guard let row = table.first(where: { $0.name == name }) else {
                throw APIError.invalid(field: "parameters.\(name)", "is not a parameter of task \(task.rawValue)")
            }
            if InferenceTensors.inputs.contains(where: { $0.name == name }) {
                throw APIError.invalid(field: "parameters.\(name)", "is an input tensor of task \(task.rawValue), not a parameter")
            }
            do throws(SamplingError) {
                values[name] = try row.check(try RequestReader.scalar(value, row))
            } catch {
                throw APIError(error)
            }
        }
        for input in body.inputs {
            guard let tensor = InferenceTensors.inputs.first(where: { $0.name == input.name && $0.tasks.contains(task) }),
                  let row = table.first(where: { $0.name == input.name }) else {
                let names = InferenceTensors.inputs.filter { $0.tasks.contains(task) }.map { "'\($0.name)'" }
                throw APIError.invalid(field: "inputs", "'\(input.name)' is not an input of task \(task.rawValue) (its inputs: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
            }
            do throws(SamplingError) {
                if tensor.perPoint {
                    // The element count is the shape's (checked, without overflow, when read).
                    guard input.shape.count >= 2, input.shape[0] >= 1,
                          Array(input.shape.dropFirst()) == shape || (input.shape.count == 2 && input.shape[1] == d) else {
                        throw SamplingError.invalidArgument(field: input.name, message: "shape \(input.shape) must be [n] + \(shape) or [n, \(d)]")
                    }
                    guard input.shape[0] <= maxPoints else {
                        throw SamplingError.invalidArgument(field: input.name, message: "holds \(input.shape[0]) points; at most \(maxPoints)")
                    }
                    values[input.name] = try row.check(.points(input.values))
                } else {
                    guard input.shape.count == 1, input.shape[0] >= 1 else {
                        throw SamplingError.invalidArgument(field: input.name, message: "shape \(input.shape) must be [1] or [n]")
                    }
                    values[input.name] = try row.check(input.values.count == 1 ? .number(input.values[0]) : .numbers(input.values))
                }
            } catch {
                throw APIError(error)
            }
        }
        for row in table where row.required && values[row.name] == nil {
            throw APIError.invalid(field: "inputs", "'\(row.name)' is required for task \(task.rawValue)")
        }
        let produced = InferenceTensors.outputs.filter { $0.tasks.contains(task) }.map(\.name)
        for output in body.outputs ?? [] where !produced.contains(output.name) {
            throw APIError.invalid(field: "outputs", "'\(output.name)' is not an output of task \(task.rawValue) (its outputs: \(produced.joined(separator: ", ")))")
        }

        /// The answer: the requested outputs (all the task produced when none are named),
        /// JSON or binary as asked.
        let reply: @Sendable ([InferenceOutput], JSONObject) -> HTTPResponse = { [self] outputs, parameters in
            // Every requested output is produced (checked before the work started).
            let chosen = body.outputs.map { requested in
                requested.compactMap { r in outputs.first { $0.name == r.name }.map { ($0, r.binary ?? body.binaryOutput) } }
            } ?? outputs.map { ($0, body.binaryOutput) }
            return v2Answer(model: model, id: body.id, parameters: parameters, outputs: chosen)
        }
        if let outputs = body.outputs, task == .sample, values["log_likelihood"] != .bool(true),
           let name = outputs.first(where: { $0.name == "log_likelihood" || $0.name == "bits_per_dim" })?.name {
            throw APIError.invalid(field: "outputs", "'\(name)' needs the parameter log_likelihood: true")
        }
        try v2Run(task, model: model, values: values, responder: responder, reply: reply)
    }

    /// Plans and runs `task`, answering with its outputs through `reply`.
    private func v2Run(_ task: ScoreSampling.Operation, model: ScoreModel, values: FieldValues, responder: HTTPResponder,
                       reply: @escaping @Sendable ([InferenceOutput], JSONObject) -> HTTPResponse) throws {
        let n: @Sendable (Int) -> [Int] = { [$0] }, shape = model.data.shape
        let points: @Sendable (Int) -> [Int] = { [$0] + shape }
        /// The answer's parameters: the seed used (when the task has one) and the time taken.
        @Sendable func parameters(seed: UInt64?, _ ms: Double) -> JSONObject {
            var o = JSONObject()
            if let seed { o["seed"] = .integer(Int64(seed)) }
            o["elapsed_ms"] = .number(ms)
            return o
        }
        switch task {
        case .sample:
            let plan = try plan { () throws(SamplingError) in try SamplePlan(model, SampleOptions(values)) }
            try runJob(plan, responder: responder, timeoutMs: timeout(values), errors: { $0.v2Response }) { [self] s, ms in
                metrics.addSamples(s.nfe.count)
                var outputs = [InferenceOutput(name: "samples", shape: points(s.nfe.count), values: .fp32(s.samples))]
                if let ll = s.logLikelihood, let bpd = s.bitsPerDim {
                    outputs.append(InferenceOutput(name: "log_likelihood", shape: n(ll.count), values: .fp64(ll)))
                    outputs.append(InferenceOutput(name: "bits_per_dim", shape: n(bpd.count), values: .fp64(bpd)))
                }
                outputs.append(InferenceOutput(name: "nfe", shape: n(s.nfe.count), values: .int64(s.nfe)))
                return reply(outputs, parameters(seed: s.seed, ms))
            }
        case .likelihood:
            let plan = try plan { () throws(SamplingError) in try LikelihoodPlan(model, LikelihoodOptions(values)) }
            try runJob(plan, responder: responder, timeoutMs: timeout(values), errors: { $0.v2Response }) { l, ms in
                let count = l.nfe.count
                return reply([
                    InferenceOutput(name: "log_likelihood", shape: n(count), values: .fp64(l.logLikelihood)),
                    InferenceOutput(name: "bits_per_dim", shape: n(count), values: .fp64(l.bitsPerDim)),
                    InferenceOutput(name: "latents", shape: points(count), values: .fp64(l.latents)),
                    InferenceOutput(name: "nfe", shape: n(count), values: .int64(l.nfe)),
                ], parameters(seed: plan.seed, ms))
            }
        case .encode:
            let plan = try plan { () throws(SamplingError) in try EncodePlan(model, EncodeOptions(values)) }
            try runJob(plan, responder: responder, timeoutMs: timeout(values), errors: { $0.v2Response }) { e, ms in
                reply([
                    InferenceOutput(name: "latents", shape: points(e.nfe.count), values: .fp64(e.latents)),
                    InferenceOutput(name: "nfe", shape: n(e.nfe.count), values: .int64(e.nfe)),
                ], parameters(seed: nil, ms))
            }
        case .score:
            let plan = try plan { () throws(SamplingError) in try ScorePlan(model, ScoreOptions(values)) }
            try runJob(plan, responder: responder, timeoutMs: timeout(values), errors: { $0.v2Response }) { s, ms in
                reply([InferenceOutput(name: "score", shape: points(s.scores.count / model.data.dimension), values: .fp32(s.scores))],
                      parameters(seed: nil, ms))
            }
        }
    }

    /// The inference answer: JSON, or with any binary output the JSON header followed by
    /// the binary outputs' bytes in order (`Inference-Header-Content-Length`).
    private func v2Answer(model: ScoreModel, id: String?, parameters: JSONObject,
                          outputs: [(InferenceOutput, Bool)]) -> HTTPResponse {
        var tail: [UInt8] = []
        var list: [JSONValue] = []
        for (output, binary) in outputs {
            var o = JSONObject([
                "name": .string(output.name), "datatype": .string(output.datatype.rawValue),
                "shape": .array(output.shape.map { .integer(Int64($0)) }),
            ])
            if binary {
                let bytes = output.bytes
                o["parameters"] = .object(JSONObject(["binary_data_size": .integer(Int64(bytes.count))]))
                tail += bytes
            } else {
                o["data"] = output.json
            }
            list.append(.object(o))
        }
        var answer = JSONObject(["model_name": .string(model.name), "model_version": .string(Self.v2Version)])
        if let id { answer["id"] = .string(id) }
        answer["parameters"] = .object(parameters)
        answer["outputs"] = .array(list)
        let header: String
        do { header = try JSONValue.object(answer).encoded() } catch {
            return APIError(.nonFinite, "the answer holds a non-finite number: \(error)").v2Response
        }
        if tail.isEmpty {
            return HTTPResponse(status: 200, contentType: "application/json", body: Array(header.utf8))
        }
        let json = Array(header.utf8)
        return HTTPResponse(status: 200, contentType: "application/octet-stream", body: json + tail,
                            headers: [("Inference-Header-Content-Length", String(json.count))])
    }
}
