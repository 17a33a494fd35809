import ScoreJSON
import ScoreSampling

/// The Open Inference Protocol (KServe V2) part of the OpenAPI document: its paths and
/// schemas, from the same tables the routes follow (`InferenceTensors`, the request-field
/// tables, the error table).
extension OpenAPIBuilder {
    /// An error of the V2 routes: `{"error": "…"}`.
    private func v2Error(_ row: ErrorStatus) -> (String, JSONValue) {
        (String(row.status), response(row.description, content: [("application/json", obj([
            "schema": schemaRef("V2Error"),
            "example": obj(["error": str(row.example(limits))]),
        ]))], headers: row.headers.map { ($0.rawValue, obj(["$ref": str("#/components/headers/\($0.rawValue)")])) }))
    }

    private func v2Operation(id: String, summary: String, description: String, requestBody: JSONValue? = nil,
                             responses: [(String, JSONValue)], errors: [ErrorStatus], secured: Bool) -> JSONValue {
        var all = responses + errors.map(v2Error)
        if secured && auth { all.append(v2Error(.unauthorized)) }
        all.sort { $0.0 < $1.0 }
        var o = JSONObject([
            "operationId": str(id), "tags": .array([str("open-inference")]), "summary": str(summary),
            "description": str(description),
        ])
        if let requestBody { o["requestBody"] = requestBody }
        o["responses"] = obj(all)
        if secured && auth { o["security"] = .array([obj(["bearerAuth": .array([])])]) }
        return .object(o)
    }

    func v2Paths() -> [(String, JSONValue)] {
        let name = obj(["$ref": str("#/components/parameters/ModelName")])
        let version = obj(["$ref": str("#/components/parameters/ModelVersion")])
        var paths: [(String, JSONValue)] = [
            ("/v2", obj(["get": v2Operation(
                id: "v2ServerMetadata", summary: "Server metadata",
                description: "The server's name, version and protocol extensions (`binary_tensor_data`).",
                responses: [("200", jsonResponse("Server metadata.", schemaRef("V2ServerMetadata")))], errors: [],
                secured: true)])),
            ("/v2/health/live", obj(["get": v2Operation(
                id: "v2Live", summary: "Server liveness", description: "200 `{\"live\":true}` while the process serves.",
                responses: [("200", jsonResponse("Alive.", schemaRef("V2Live")))], errors: [], secured: false)])),
            ("/v2/health/ready", obj(["get": v2Operation(
                id: "v2Ready", summary: "Server readiness",
                description: "As `/readyz`: 200 `{\"ready\":true}` once models are loaded, 503 `{\"ready\":false}` while starting or draining.",
                responses: [("200", jsonResponse("Ready.", schemaRef("Readiness"))),
                            ("503", jsonResponse("Starting or draining.", schemaRef("Readiness")))],
                errors: [], secured: false)])),
        ]
        for (suffix, parameters, tag) in [("", [name], ""), ("/versions/{version}", [name, version], "Version")] {
            let base = "/v2/models/{name}" + suffix
            paths.append((base, obj([
                "parameters": .array(parameters),
                "get": v2Operation(
                    id: "v2ModelMetadata\(tag)", summary: "Model metadata",
                    description: """
                        The model's inputs and outputs with their datatypes and shapes (−1: the \
                        number of points), each with the tasks (`parameters.tasks`) that use it.
                        """,
                    responses: [("200", jsonResponse("Model metadata.", schemaRef("V2ModelMetadata")))],
                    errors: [.notFound], secured: true),
            ])))
            paths.append((base + "/ready", obj([
                "parameters": .array(parameters),
                "get": v2Operation(
                    id: "v2ModelReady\(tag)", summary: "Model readiness",
                    description: "200 `{\"name\",\"ready\":true}` while the server is ready; 503 while starting or draining.",
                    responses: [("200", jsonResponse("Ready.", schemaRef("V2ModelReady"))),
                                ("503", jsonResponse("Starting or draining.", schemaRef("V2ModelReady")))],
                    errors: [.notFound], secured: true),
            ])))
            paths.append((base + "/infer", obj([
                "parameters": .array(parameters),
                "post": v2Operation(
                    id: "v2Infer\(tag)", summary: "Run one task",
                    description: """
                        Runs one task, the request parameter `task`: `sample` (default), \
                        `likelihood`, `encode` or `score`, exactly as the `/v1` route of that \
                        name (same seed, same numbers). Inputs by name: `latents` (sample), `x` \
                        (likelihood, encode, score; `[n, ...data_shape]` or `[n, D]`, any numeric \
                        datatype), `t` (score; `[1]` or `[n]`). Every other `/v1` field of the \
                        task is a request parameter of the same name; `timeout` (microseconds) \
                        sets the deadline. Outputs: `samples` FP32, `log_likelihood` and \
                        `bits_per_dim` FP64, `latents` FP64, `score` FP32, `nfe` INT64; the \
                        request's `outputs` picks and orders them. The binary tensor extension: \
                        with an `Inference-Header-Content-Length` header the body is that many \
                        bytes of JSON followed by the inputs' little-endian bytes \
                        (`parameters.binary_data_size`, in order); outputs asked in binary \
                        (`binary_data`, or the request parameter `binary_data_output`) follow the \
                        answer's JSON the same way, with the header on the answer. The body may \
                        be untyped, JSON or `application/octet-stream`.
                        """,
                    requestBody: obj([
                        "required": .bool(true),
                        "content": obj([
                            ("application/json", obj(["schema": schemaRef("V2InferenceRequest")])),
                            ("application/octet-stream", obj(["schema": obj([
                                "type": str("string"), "format": str("binary"),
                                "description": str("The binary tensor extension: the JSON request, then the inputs' bytes."),
                            ])])),
                        ]),
                    ]),
                    responses: [("200", response(
                        "The outputs: JSON, or with binary outputs the JSON (its length in Inference-Header-Content-Length) followed by their bytes.",
                        content: [
                            ("application/json", obj(["schema": schemaRef("V2InferenceResponse")])),
                            ("application/octet-stream", obj(["schema": obj(["type": str("string"), "format": str("binary")])])),
                        ],
                        headers: [("Inference-Header-Content-Length", obj([
                            "description": str("With binary outputs: the length of the JSON part."),
                            "schema": obj(["type": str("integer"), "minimum": int(0)]),
                        ]))]))],
                    errors: postErrors, secured: true),
            ])))
        }
        return paths
    }

    /// The request parameters: the protocol's, then every `/v1` field that is not an input
    /// tensor, once, as its first task's table describes it.
    private func v2Parameters() -> [(String, JSONValue)] {
        var list: [(String, JSONValue)] = [
            ("task", enumeration(ScoreSampling.Operation.allCases.map(\.rawValue), default: "sample", "The task to run.")),
            ("binary_data_output", boolean(default: false, "Outputs in binary unless an output says otherwise.")),
            ("timeout", integer(min: 1, "Deadline in microseconds.")),
        ]
        for operation in ScoreSampling.Operation.allCases {
            for field in RequestFields.table(operation, limits: limits.fields)
            where !InferenceTensors.inputs.contains(where: { $0.name == field.name }) && !list.contains(where: { $0.0 == field.name }) {
                list.append((field.name, fieldSchema(field, operation)))
            }
        }
        return list
    }

    func v2Schemas() -> [(String, JSONValue)] {
        let datatypes = InferenceDatatype.allCases.map(\.rawValue)
        let tensorMetadata = objectSchema([
            ("name", string()),
            ("datatype", enumeration(datatypes, "Element type.")),
            ("shape", arrayOf(integer(min: -1), "Shape; −1 where it varies.")),
            ("parameters", objectSchema([("tasks", arrayOf(enumeration(ScoreSampling.Operation.allCases.map(\.rawValue), "A task.")))],
                                        required: ["tasks"])),
        ], required: ["name", "datatype", "shape"])
        let tasks = ScoreSampling.Operation.allCases.map(\.rawValue)
        return [
            ("V2Error", objectSchema([("error", string("What is wrong; names the member or field at fault."))],
                                     required: ["error"], closed: true, "The error answer of the `/v2` routes.")),
            ("V2Live", objectSchema([("live", obj(["type": str("boolean")]))], required: ["live"])),
            ("V2ServerMetadata", objectSchema([
                ("name", string()), ("version", string()), ("extensions", arrayOf(string())),
            ], required: ["name", "version", "extensions"])),
            ("V2ModelReady", objectSchema([("name", string()), ("ready", obj(["type": str("boolean")]))],
                                          required: ["name", "ready"])),
            ("V2ModelMetadata", objectSchema([
                ("name", string()), ("versions", arrayOf(string())), ("platform", string()),
                ("inputs", arrayOf(tensorMetadata)), ("outputs", arrayOf(tensorMetadata)),
            ], required: ["name", "versions", "platform", "inputs", "outputs"])),
            ("V2InferenceRequest", objectSchema([
                ("id", string("Echoed in the answer.")),
                ("model_name", string("Ignored (the path names the model).")),
                ("model_version", string("Ignored (the path names the version).")),
                ("parameters", objectSchema(v2Parameters(), required: [], closed: true,
                    "`task` (one of \(tasks.joined(separator: ", ")); default sample), `binary_data_output`, `timeout` (µs) and the `/v1` fields of the task (a field another task has is a 400).")),
                ("inputs", arrayOf(objectSchema([
                    ("name", enumeration(InferenceTensors.inputs.map(\.name), "The input.")),
                    ("shape", arrayOf(integer(min: 0))),
                    ("datatype", enumeration(datatypes, "Element type (numeric ones are read).")),
                    ("data", arrayOf(obj(["type": str("number")]), "The elements, flat, row-major (nested arrays of the tensor's shape are read too).")),
                    ("parameters", objectSchema([("binary_data_size", integer(min: 0, "Bytes of this input after the JSON."))],
                                                required: [], closed: true)),
                ], required: ["name", "shape", "datatype"], closed: true), "Input tensors by name.")),
                ("outputs", arrayOf(objectSchema([
                    ("name", enumeration(InferenceTensors.outputs.map(\.name), "The output.")),
                    ("parameters", objectSchema([("binary_data", boolean("This output in binary."))], required: [], closed: true)),
                ], required: ["name"], closed: true), "Outputs to return, in order (default: all the task gives).")),
            ], required: ["inputs"], closed: true, "An Open Inference Protocol inference request.")),
            ("V2InferenceResponse", objectSchema([
                ("model_name", string()), ("model_version", string()), ("id", string()),
                ("parameters", objectSchema([
                    ("seed", integer(min: 0, "The seed used (sample, likelihood).")),
                    ("elapsed_ms", number("Wall time of the request in milliseconds.")),
                ], required: ["elapsed_ms"])),
                ("outputs", arrayOf(objectSchema([
                    ("name", enumeration(InferenceTensors.outputs.map(\.name), "The output.")),
                    ("datatype", enumeration(["FP32", "FP64", "INT64"], "Element type.")),
                    ("shape", arrayOf(integer(min: 0))),
                    ("data", arrayOf(obj(["type": str("number")]), "The elements, flat, row-major (JSON outputs).")),
                    ("parameters", objectSchema([("binary_data_size", integer(min: 0, "Bytes of this output after the JSON."))],
                                                required: ["binary_data_size"])),
                ], required: ["name", "datatype", "shape"]))),
            ], required: ["model_name", "model_version", "parameters", "outputs"], "An Open Inference Protocol inference answer.")),
        ]
    }
}
