import ScoreCore
import ScoreJSON
import ScoreSampling

/// The OpenAPI 3.1 description of the HTTP API, served at `GET /openapi.json`.
///
/// Built from the same limits and enums the handlers validate against, so the
/// document's maximums and enum values follow the server's configuration.
public enum OpenAPIDocument {
    /// The document for a server running with `limits`; with `authEnabled`, every
    /// `/v1/*` operation requires a bearer token and documents its 401 answer.
    public static func make(limits: APILimits, authEnabled: Bool) -> JSONValue {
        OpenAPIBuilder(limits: limits, auth: authEnabled).document()
    }
}

// MARK: - Building blocks

/// Schema and object helpers: members of the builder, so that their short names
/// never clash with functions elsewhere in the module.
extension OpenAPIBuilder {
    /// An object value, keys in the order written.
    func obj(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(JSONObject(pairs))
    }

    /// An object value from pairs computed at run time (keys in order).
    func obj(_ pairs: [(String, JSONValue)]) -> JSONValue {
        var o = JSONObject()
        for (k, v) in pairs { o[k] = v }
        return .object(o)
    }

    func str(_ s: String) -> JSONValue { .string(s) }
    func int(_ i: Int) -> JSONValue { .integer(Int64(i)) }

    func schemaRef(_ name: String) -> JSONValue {
        obj(["$ref": str("#/components/schemas/\(name)")])
    }

    /// A `$ref` with sibling keywords (allowed by OpenAPI 3.1 / JSON Schema 2020-12).
    func schemaRef(_ name: String, _ extra: KeyValuePairs<String, JSONValue>) -> JSONValue {
        var o = JSONObject(["$ref": str("#/components/schemas/\(name)")])
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }

    func integer(min: Int64? = nil, max: Int64? = nil, format: String? = nil,
                         default def: Int? = nil, _ description: String? = nil) -> JSONValue {
        var o = JSONObject(["type": str("integer")])
        if let format { o["format"] = str(format) }
        if let min { o["minimum"] = .integer(min) }
        if let max { o["maximum"] = .integer(max) }
        if let def { o["default"] = int(def) }
        if let description { o["description"] = str(description) }
        return .object(o)
    }

    func number(exclusiveMin: JSONValue? = nil, max: JSONValue? = nil,
                        exclusiveMax: JSONValue? = nil, default def: JSONValue? = nil,
                        _ description: String? = nil) -> JSONValue {
        var o = JSONObject(["type": str("number")])
        if let exclusiveMin { o["exclusiveMinimum"] = exclusiveMin }
        if let max { o["maximum"] = max }
        if let exclusiveMax { o["exclusiveMaximum"] = exclusiveMax }
        if let def { o["default"] = def }
        if let description { o["description"] = str(description) }
        return .object(o)
    }

    func string(_ description: String? = nil) -> JSONValue {
        var o = JSONObject(["type": str("string")])
        if let description { o["description"] = str(description) }
        return .object(o)
    }

    func boolean(default def: Bool? = nil, _ description: String) -> JSONValue {
        var o = JSONObject(["type": str("boolean")])
        if let def { o["default"] = .bool(def) }
        o["description"] = str(description)
        return .object(o)
    }

    func enumeration(_ values: [String], default def: String? = nil, _ description: String) -> JSONValue {
        var o = JSONObject(["type": str("string"), "enum": .array(values.map(str))])
        if let def { o["default"] = str(def) }
        o["description"] = str(description)
        return .object(o)
    }

    func arrayOf(_ items: JSONValue, _ description: String? = nil) -> JSONValue {
        var o = JSONObject(["type": str("array"), "items": items])
        if let description { o["description"] = str(description) }
        return .object(o)
    }

    /// An object schema; `closed` adds `additionalProperties: false`.
    func objectSchema(_ properties: [(String, JSONValue)], required: [String],
                              closed: Bool = false, _ description: String? = nil) -> JSONValue {
        var o = JSONObject(["type": str("object")])
        if let description { o["description"] = str(description) }
        if !required.isEmpty { o["required"] = .array(required.map(str)) }
        o["properties"] = obj(properties)
        if closed { o["additionalProperties"] = .bool(false) }
        return .object(o)
    }

    /// Largest seed: 2^63 − 1.
    var maxSeed: Int64 { .max }
}

// MARK: - The document

/// Builds the document; its helpers are shared with `OpenAPIDocument+V2.swift`.
struct OpenAPIBuilder {
    let limits: APILimits
    let auth: Bool

    func document() -> JSONValue {
        obj([
            "openapi": str("3.1.0"),
            "info": info(),
            "tags": .array([
                obj(["name": str("service"), "description": str("Liveness, readiness, metrics and this document.")]),
                obj(["name": str("models"), "description": str("The loaded score-based models.")]),
                obj(["name": str("inference"), "description": str("Sampling, likelihoods, scores and encoding with one model.")]),
                obj(["name": str("open-inference"), "description": str("The Open Inference Protocol (KServe V2) REST routes: the same tasks as `/v1`.")]),
            ]),
            "paths": paths(),
            "components": components(),
        ])
    }

    func info() -> JSONValue {
        var text = """
            CPU sampling service for score-based generative models (SDE samplers, \
            probability-flow ODE, DPM-Solver++, likelihoods). JSON in, JSON out, UTF-8. \
            Points are nested arrays in data space with the model's `data_shape` per point. \
            Unknown request fields are a 400. Every error answer is \
            `{"error":{"code":...,"message":...}}`. A request that can never be served is a \
            400 before admission, never a 429. Request bodies are limited to \
            \(limits.maxBodyBytes) bytes.
            """
        if auth {
            text += " Every `/v1/*` endpoint requires an `Authorization: Bearer <token>` header."
        }
        return obj([
            "title": str("ScoreServe"),
            "version": str(ScoreAPI.version),
            "description": str(text),
        ])
    }

    // MARK: Paths

    func paths() -> JSONValue {
        guard case .object(var all) = v1Paths() else { return v1Paths() }
        for (path, item) in v2Paths() { all[path] = item }
        return .object(all)
    }

    /// The error answers of every inference POST (`/v1` and `/v2`).
    var postErrors: [ErrorStatus] {
        [.invalidArgument, .notFound, .payloadTooLarge, .unsupportedMediaType, .nonFinite, .overloaded, .unavailable,
         .deadlineExceeded]
    }

    /// The event-stream answer of the long operations (`Accept: text/event-stream`).
    var eventStream: (String, JSONValue) {
        ("text/event-stream", obj(["schema": obj([
            "type": str("string"),
            "description": str("""
                Server-Sent Events, when the request's Accept header asks for text/event-stream: \
                `progress` events (`data`: {"fraction", "steps_done", "steps_total", "elapsed_s", \
                "remaining_s"}; at most every 250 ms, at least every 2 s), then one `result` event \
                whose data is exactly the JSON answer, or one `error` event whose data is the error \
                JSON. A client that disconnects cancels the work; deadlines apply as usual.
                """),
        ])]))
    }

    func v1Paths() -> JSONValue {
        let name = obj(["$ref": str("#/components/parameters/ModelName")])
        let posts = postErrors
        return obj([
            "/healthz": obj(["get": operation(
                id: "getHealth", tag: "service", summary: "Liveness",
                description: "200 while the process serves.",
                responses: [("200", jsonResponse("The process is alive.", schemaRef("Health")))])]),
            "/readyz": obj(["get": operation(
                id: "getReadiness", tag: "service", summary: "Readiness",
                description: """
                    200 once models are loaded; 503 while starting or draining. On SIGTERM it \
                    turns 503 at once while in-flight work finishes, so a load balancer that \
                    checks it and retries 503s loses no request.
                    """,
                responses: [
                    ("200", jsonResponse("Ready: `{\"ready\":true}`.", schemaRef("Readiness"),
                                         example: obj(["ready": .bool(true)]))),
                    ("503", jsonResponse("Starting or draining: `{\"ready\":false}`.", schemaRef("Readiness"),
                                         example: obj(["ready": .bool(false)]))),
                ])]),
            "/metrics": obj(["get": operation(
                id: "getMetrics", tag: "service", summary: "Prometheus metrics",
                description: """
                    Prometheus text exposition: requests by route and code, latency histograms \
                    in seconds, queue wait, in-flight, rejected, network evaluations, samples.
                    """,
                responses: [("200", response("Metrics in the Prometheus text format.", content: [
                    ("text/plain", obj(["schema": string()])),
                ]))])]),
            "/openapi.json": obj(["get": operation(
                id: "getOpenAPI", tag: "service", summary: "This OpenAPI document",
                description: "The OpenAPI 3.1 description of every endpoint.",
                responses: [("200", jsonResponse("The OpenAPI document.", obj(["type": str("object")])))])]),
            "/v1/models": obj(["get": operation(
                id: "listModels", tag: "models", summary: "List the loaded models",
                description: "Metadata of every loaded model.",
                responses: [("200", jsonResponse("The loaded models.", schemaRef("ModelList")))],
                secured: true)]),
            "/v1/models/{name}": obj([
                "parameters": .array([name]),
                "get": operation(
                    id: "getModel", tag: "models", summary: "One model's metadata",
                    description: "Metadata of the named model; 404 if it is unknown.",
                    responses: [
                        ("200", jsonResponse("The model's metadata.", schemaRef("ModelInfo"))),
                        statusResponse(.notFound),
                    ],
                    secured: true),
            ]),
            "/v1/models/{name}/sample": obj([
                "parameters": .array([name]),
                "post": operation(
                    id: "sample", tag: "inference", summary: "Draw samples",
                    description: """
                        Draws `n` samples with the chosen sampler. Sample `i` is a pure function \
                        of (model, parameters, seed, i), so shards with `offset` reproduce one \
                        large request. A request whose work (samples × steps) exceeds the \
                        server's limit of \(limits.maxWork) can never be served and is a 400. \
                        With `Accept: application/x-npy` the answer is the samples alone as a \
                        float32 .npy array of shape [n, ...data_shape]; with `Accept: image/png` \
                        (image models only, else 406) a PNG grid of the samples, ⌈√n⌉ per row, \
                        pixels scaled 2×, values 0…levels−1 (or the samples' range) mapped to 0…255.
                        """,
                    requestBody: requestBody("SampleRequest"),
                    responses: [("200", response(
                        "The samples. JSON by default; a float32 .npy array of shape [n, ...data_shape] when the request's Accept header asks for application/x-npy.",
                        content: [
                            ("application/json", obj(["schema": schemaRef("SampleResponse")])),
                            ("application/x-npy", obj(["schema": obj([
                                "type": str("string"), "format": str("binary"),
                                "description": str("NumPy .npy file: float32 samples, shape [n, ...data_shape]."),
                            ])])),
                            ("image/png", obj(["schema": obj([
                                "type": str("string"), "format": str("binary"),
                                "description": str("PNG grid of the samples (image models)."),
                            ])])),
                            eventStream,
                        ]))] + (posts + [.notAcceptable]).map(statusResponse),
                    secured: true),
            ]),
            "/v1/models/{name}/likelihood": obj([
                "parameters": .array([name]),
                "post": operation(
                    id: "likelihood", tag: "inference", summary: "Log-likelihood of points",
                    description: """
                        Log-likelihood of each point by the probability-flow ODE, in nats in \
                        data space, with `bits_per_dim = -log_likelihood / (D ln 2)` (with \
                        dequantization: in units of the integer levels). Note what the number \
                        is: the ODE likelihood converges to `log p_eps(x) + log π(z) - log p_T(z)`, \
                        not to `log p_0(x)`, since the prior π is only close to the true marginal \
                        at T.
                        """,
                    requestBody: requestBody("LikelihoodRequest"),
                    responses: [("200", response("Log-likelihoods, bits per dimension and latents.", content: [
                        ("application/json", obj(["schema": schemaRef("LikelihoodResponse")])), eventStream,
                    ]))]
                        + posts.map(statusResponse),
                    secured: true),
            ]),
            "/v1/models/{name}/score": obj([
                "parameters": .array([name]),
                "post": operation(
                    id: "score", tag: "inference", summary: "Score of points",
                    description: "The network's score s(x, t) of data-space points, in model space as the network gives it.",
                    requestBody: requestBody("ScoreRequest"),
                    responses: [("200", jsonResponse("The scores, one per point.", schemaRef("ScoreResponse")))]
                        + posts.map(statusResponse),
                    secured: true),
            ]),
            "/v1/models/{name}/encode": obj([
                "parameters": .array([name]),
                "post": operation(
                    id: "encode", tag: "inference", summary: "Encode points to latents",
                    description: """
                        Integrates the probability-flow ODE from eps to T. Decoding the latents \
                        with `sampler: "ode"`, `denoise: false` and the same `eps` returns the \
                        points within the tolerances.
                        """,
                    requestBody: requestBody("EncodeRequest"),
                    responses: [("200", response("The latents.", content: [
                        ("application/json", obj(["schema": schemaRef("EncodeResponse")])), eventStream,
                    ]))]
                        + posts.map(statusResponse),
                    secured: true),
            ]),
        ])
    }

    func operation(id: String, tag: String, summary: String, description: String,
                           requestBody: JSONValue? = nil, responses: [(String, JSONValue)],
                           secured: Bool = false) -> JSONValue {
        var o = JSONObject([
            "operationId": str(id),
            "tags": .array([str(tag)]),
            "summary": str(summary),
            "description": str(description),
        ])
        if let requestBody { o["requestBody"] = requestBody }
        var all = responses
        if secured && auth {
            all.append(statusResponse(.unauthorized))
            all.sort { $0.0 < $1.0 }
            o["security"] = .array([obj(["bearerAuth": .array([])])])
        }
        o["responses"] = obj(all)
        return .object(o)
    }

    func requestBody(_ schema: String) -> JSONValue {
        obj([
            "required": .bool(true),
            "content": obj(["application/json": obj(["schema": schemaRef(schema)])]),
        ])
    }

    func response(_ description: String, content: [(String, JSONValue)],
                          headers: [(String, JSONValue)] = []) -> JSONValue {
        obj([
            "description": str(description),
            "headers": obj([("X-Request-Id", headerRef("X-Request-Id"))] + headers),
            "content": obj(content),
        ])
    }

    func jsonResponse(_ description: String, _ schema: JSONValue, example: JSONValue? = nil) -> JSONValue {
        var media = JSONObject(["schema": schema])
        if let example { media["example"] = example }
        return response(description, content: [("application/json", .object(media))])
    }

    func headerRef(_ name: String) -> JSONValue {
        obj(["$ref": str("#/components/headers/\(name)")])
    }

    // MARK: Error answers (rows of `ErrorStatus.all`)

    /// The error answers this server can give: the table, less 401 without auth.
    var errorRows: [ErrorStatus] {
        ErrorStatus.all.filter { $0 != .unauthorized || auth }
    }

    func statusResponse(_ row: ErrorStatus) -> (String, JSONValue) {
        (String(row.status), obj(["$ref": str("#/components/responses/\(row.component)")]))
    }

    func errorResponse(_ row: ErrorStatus) -> JSONValue {
        response(row.description, content: [("application/json", obj([
            "schema": schemaRef("Error"),
            "example": obj(["error": obj(["code": str(row.code), "message": str(row.example(limits))])]),
        ]))], headers: row.headers.map { ($0.rawValue, headerRef($0.rawValue)) })
    }

    /// A header's component: what it means and its schema.
    func headerComponent(_ header: ErrorStatus.Header) -> JSONValue {
        let (description, schema): (String, JSONValue) = switch header {
        case .retryAfter: ("Seconds to wait before retrying.", obj(["type": str("integer"), "minimum": int(0)]))
        case .wwwAuthenticate: ("The authentication scheme to use (Bearer).", obj(["type": str("string")]))
        case .allow: ("The methods the path takes, comma-separated.", obj(["type": str("string")]))
        }
        return obj(["description": str(description), "required": .bool(true), "schema": schema])
    }

    // MARK: Components

    func components() -> JSONValue {
        var c = JSONObject([
            "schemas": schemas(),
            "parameters": obj([
                "ModelName": obj([
                    "name": str("name"),
                    "in": str("path"),
                    "required": .bool(true),
                    "description": str("Model name, as `/v1/models` lists it."),
                    "schema": obj(["type": str("string"), "pattern": str("^[A-Za-z0-9_.-]+$")]),
                ]),
                "ModelVersion": obj([
                    "name": str("version"),
                    "in": str("path"),
                    "required": .bool(true),
                    "description": str("Model version: every model has the one version `\(ScoreAPI.v2Version)`; another is a 404."),
                    "schema": obj(["type": str("string")]),
                ]),
            ]),
            "headers": headers(),
            "responses": obj(errorRows.map { ($0.component, errorResponse($0)) }),
        ])
        if auth {
            c["securitySchemes"] = obj([
                "bearerAuth": obj([
                    "type": str("http"),
                    "scheme": str("bearer"),
                    "description": str("`Authorization: Bearer <token>` on every `/v1/*` request."),
                ]),
            ])
        }
        return .object(c)
    }

    func headers() -> JSONValue {
        let carried = ErrorStatus.Header.allCases.filter { h in errorRows.contains { $0.headers.contains(h) } }
        return obj([
            ("X-Request-Id", obj([
                "description": str("Identifier of the request, for correlating logs."),
                "schema": obj(["type": str("string")]),
            ])),
        ] + carried.map { ($0.rawValue, headerComponent($0)) })
    }

    func schemas() -> JSONValue {
        guard case .object(var all) = v1Schemas() else { return v1Schemas() }
        for (name, schema) in v2Schemas() { all[name] = schema }
        return .object(all)
    }

    func v1Schemas() -> JSONValue {
        obj([
            ("Error", errorSchema()),
            ("Health", objectSchema([("status", obj(["type": str("string"), "enum": .array([str("ok")])]))],
                                    required: ["status"])),
            ("Readiness", objectSchema([("ready", obj(["type": str("boolean")]))], required: ["ready"])),
            ("ModelList", objectSchema([("models", arrayOf(schemaRef("ModelInfo")))], required: ["models"])),
            ("ModelInfo", modelInfo()),
            ("SDEInfo", sdeInfo()),
            ("NetworkInfo", networkInfo()),
            ("Point", obj([
                "type": str("array"),
                "minItems": int(1),
                "items": obj(["oneOf": .array([obj(["type": str("number")]), schemaRef("Point")])]),
                "description": str("One point: nested arrays of numbers whose nesting is the model's data shape (the server checks it: 400 otherwise)."),
            ])),
            ("Points", obj([
                "type": str("array"),
                "items": schemaRef("Point"),
                "description": str("A list of points, each of the model's data shape."),
            ])),
            ("SampleRequest", sampleRequest()),
            ("SampleResponse", sampleResponse()),
            ("LikelihoodRequest", likelihoodRequest()),
            ("LikelihoodResponse", likelihoodResponse()),
            ("ScoreRequest", scoreRequest()),
            ("ScoreResponse", objectSchema(
                [("score", schemaRef("Points", ["description": str("Model-space scores as the network gives them, one per point of `x`.")]))],
                required: ["score"])),
            ("EncodeRequest", encodeRequest()),
            ("EncodeResponse", objectSchema([
                ("latents", schemaRef("Points", ["description": str("Prior latents x(T) in model space, one per point of `x`.")])),
                ("nfe", arrayOf(integer(min: 0), "Network evaluations per point.")),
                ("elapsed_ms", number("Wall time of the request in milliseconds.")),
            ], required: ["latents", "nfe", "elapsed_ms"])),
        ])
    }

    func errorSchema() -> JSONValue {
        let codes = errorRows.map(\.code)
        return objectSchema([
            ("error", objectSchema([
                ("code", enumeration(codes, "Machine-readable code: " + codes.joined(separator: ", ") + ".")),
                ("message", string("Human-readable message; names the offending field where there is one.")),
            ], required: ["code", "message"], closed: true)),
        ], required: ["error"], closed: true, "Every error answer.")
    }

    func modelInfo() -> JSONValue {
        objectSchema([
            ("name", string("Model name.")),
            ("description", string("What the model is.")),
            ("sde", schemaRef("SDEInfo")),
            ("data_shape", arrayOf(integer(min: 1), "Shape of one data point ([D] for vectors, [C, H, W] for images).")),
            ("network", schemaRef("NetworkInfo")),
            ("parameters", integer(min: 0, "Number of network parameters.")),
            ("levels", integer(min: 1, "Integer levels of the data (e.g. 256 for 8-bit images), when the model has them.")),
            ("data_transform", objectSchema([
                ("type", enumeration(DataTransform.Kind.allCases.filter { $0 != .affine }.map(\.rawValue),
                                     "The map from data to model space before shift and scale.")),
                ("alpha", number(exclusiveMin: .number(0), exclusiveMax: .number(0.5), "α of logit(α + (1 − 2α)·x/levels).")),
            ], required: ["type", "alpha"], "Present when the model maps its data nonlinearly (data.transform in config.json): "
                + "samples then lie in the data range, and likelihood, encode and score points must lie in it.")),
        ], required: ["name", "description", "sde", "data_shape", "network", "parameters"],
           "One model's metadata.")
    }

    func sdeInfo() -> JSONValue {
        objectSchema([
            ("type", enumeration(SDE.Kind.allCases.map(\.rawValue), "SDE family.")),
            ("beta_min", number("β0 (vp, subvp).")),
            ("beta_max", number("β1 (vp, subvp).")),
            ("sigma_min", number("σmin (ve).")),
            ("sigma_max", number("σmax (ve).")),
            ("sigma", number("σ (ve_power).")),
            ("sampling_eps", number("Smallest time of samplers (default `eps` of sampling).")),
            ("likelihood_eps", number("Smallest time of likelihoods and encoding (their default `eps`).")),
        ], required: ["type", "sampling_eps", "likelihood_eps"], "The forward SDE and its parameters.")
    }

    func networkInfo() -> JSONValue {
        obj([
            "type": str("object"),
            "description": str("The score network: its type and integer hyperparameters (or lists of them)."),
            "required": .array([str("type")]),
            "properties": obj(["type": string("Network type (mlp, gmm, empirical, ...).")]),
            // Integer hyperparameters, or lists of them (scorenet's `channels`).
            "additionalProperties": obj(["oneOf": .array([
                obj(["type": str("integer")]),
                obj(["type": str("array"), "items": obj(["type": str("integer")])]),
            ])]),
        ])
    }

    // MARK: Request fields

    /// The request body of an operation: one property per row of its request-field table.
    func request(_ operation: ScoreSampling.Operation, _ description: String) -> JSONValue {
        let table = RequestFields.table(operation, limits: limits.fields)
        return objectSchema(table.map { ($0.name, fieldSchema($0, operation)) },
                            required: table.filter(\.required).map(\.name), closed: true, description)
    }

    /// One row of the table as a JSON Schema.
    func fieldSchema(_ field: RequestField, _ operation: ScoreSampling.Operation) -> JSONValue {
        var text = field.description
        if operation == .sample && field.samplerSpecific {
            text += " Applies to \(Samplers.applicability(of: field.name))."
        }
        var o: JSONObject
        switch field.kind {
        case .integer(let range):
            o = JSONObject(["type": str("integer")])
            // Beyond 2^53 a JSON number is not exact: say the value is a 64-bit integer.
            if range.upperBound > 1 << 53 { o["format"] = str("int64") }
            o["minimum"] = .integer(range.lowerBound)
            o["maximum"] = .integer(range.upperBound)
        case .number(let range):
            o = numberSchema(range)
        case .boolean:
            o = JSONObject(["type": str("boolean")])
        case .choice(let values):
            o = JSONObject(["type": str("string"), "enum": .array(values.map(str))])
        case .points(let maxCount):
            o = JSONObject(["$ref": str("#/components/schemas/Points"), "minItems": int(1), "maxItems": int(maxCount)])
        case .times(let range):
            let time = JSONValue.object(numberSchema(range))
            let times = obj(["type": str("array"), "items": time, "minItems": int(1)])
            o = JSONObject(["oneOf": .array([time, times])])
        }
        if let value = field.defaultValue { o["default"] = json(value) }
        o["description"] = str(text)
        return .object(o)
    }

    func numberSchema(_ range: NumberRange) -> JSONObject {
        var o = JSONObject(["type": str("number")])
        if let lower = range.lower { o[range.lowerOpen ? "exclusiveMinimum" : "minimum"] = bound(lower) }
        if let upper = range.upper { o[range.upperOpen ? "exclusiveMaximum" : "maximum"] = bound(upper) }
        return o
    }

    /// An integral bound as a JSON integer, else a number.
    func bound(_ x: Double) -> JSONValue {
        x.rounded() == x && abs(x) < 1e15 ? .integer(Int64(x)) : .number(x)
    }

    func json(_ value: FieldValue) -> JSONValue {
        switch value {
        case .integer(let i): .integer(i)
        case .number(let d): .number(d)
        case .bool(let b): .bool(b)
        case .string(let s): .string(s)
        case .points, .numbers: .null
        }
    }

    func sampleRequest() -> JSONValue {
        request(.sample, "Sampling parameters; every field is optional.")
    }

    func likelihoodRequest() -> JSONValue {
        request(.likelihood, "Points to evaluate; only `x` is required.")
    }

    func scoreRequest() -> JSONValue {
        request(.score, "Points and the time at which to evaluate the score.")
    }

    func encodeRequest() -> JSONValue {
        request(.encode, "Points to encode; only `x` is required.")
    }

    func sampleResponse() -> JSONValue {
        objectSchema([
            ("model", string("Model name.")),
            ("n", integer(min: 0, "Number of samples returned.")),
            ("seed", integer(min: 0, max: maxSeed, format: "int64", "The seed used.")),
            ("shape", arrayOf(integer(min: 1), "Shape of one sample (the model's data shape).")),
            ("samples", schemaRef("Points", ["description": str("The samples, in data space.")])),
            ("nfe", arrayOf(integer(min: 0), "Network evaluations per sample.")),
            ("log_likelihood", arrayOf(number(), "Log-likelihood of each sample in nats, data space (only with `log_likelihood: true`).")),
            ("bits_per_dim", arrayOf(number(), "Bits per dimension of each sample (only with `log_likelihood: true`).")),
            ("elapsed_ms", number("Wall time of the request in milliseconds.")),
        ], required: ["model", "n", "seed", "shape", "samples", "nfe", "elapsed_ms"])
    }

    func likelihoodResponse() -> JSONValue {
        objectSchema([
            ("log_likelihood", arrayOf(number(), "Log-likelihood of each point in nats, data space (the ODE likelihood: log p_eps(x) + log π(z) − log p_T(z)).")),
            ("bits_per_dim", arrayOf(number(), "−log_likelihood / (D ln 2); with dequantization, in units of the integer levels.")),
            ("latents", schemaRef("Points", ["description": str("Latents z = x(T) in model space, one per point.")])),
            ("nfe", arrayOf(integer(min: 0), "Network evaluations per point.")),
            ("seed", integer(min: 0, max: maxSeed, format: "int64", "The seed used.")),
            ("elapsed_ms", number("Wall time of the request in milliseconds.")),
        ], required: ["log_likelihood", "bits_per_dim", "latents", "nfe", "seed", "elapsed_ms"])
    }

}
