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
        Builder(limits: limits, auth: authEnabled).document()
    }
}

// MARK: - Building blocks

/// Schema and object helpers: members of the builder, so that their short names
/// never clash with functions elsewhere in the module.
extension Builder {
    /// An object value, keys in the order written.
    private func obj(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(JSONObject(pairs))
    }

    /// An object value from pairs computed at run time (keys in order).
    private func obj(_ pairs: [(String, JSONValue)]) -> JSONValue {
        var o = JSONObject()
        for (k, v) in pairs { o[k] = v }
        return .object(o)
    }

    private func str(_ s: String) -> JSONValue { .string(s) }
    private func int(_ i: Int) -> JSONValue { .integer(Int64(i)) }

    private func schemaRef(_ name: String) -> JSONValue {
        obj(["$ref": str("#/components/schemas/\(name)")])
    }

    /// A `$ref` with sibling keywords (allowed by OpenAPI 3.1 / JSON Schema 2020-12).
    private func schemaRef(_ name: String, _ extra: KeyValuePairs<String, JSONValue>) -> JSONValue {
        var o = JSONObject(["$ref": str("#/components/schemas/\(name)")])
        for (k, v) in extra { o[k] = v }
        return .object(o)
    }

    private func integer(min: Int64? = nil, max: Int64? = nil, format: String? = nil,
                         default def: Int? = nil, _ description: String? = nil) -> JSONValue {
        var o = JSONObject(["type": str("integer")])
        if let format { o["format"] = str(format) }
        if let min { o["minimum"] = .integer(min) }
        if let max { o["maximum"] = .integer(max) }
        if let def { o["default"] = int(def) }
        if let description { o["description"] = str(description) }
        return .object(o)
    }

    private func number(exclusiveMin: JSONValue? = nil, max: JSONValue? = nil,
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

    private func string(_ description: String? = nil) -> JSONValue {
        var o = JSONObject(["type": str("string")])
        if let description { o["description"] = str(description) }
        return .object(o)
    }

    private func boolean(default def: Bool? = nil, _ description: String) -> JSONValue {
        var o = JSONObject(["type": str("boolean")])
        if let def { o["default"] = .bool(def) }
        o["description"] = str(description)
        return .object(o)
    }

    private func enumeration(_ values: [String], default def: String? = nil, _ description: String) -> JSONValue {
        var o = JSONObject(["type": str("string"), "enum": .array(values.map(str))])
        if let def { o["default"] = str(def) }
        o["description"] = str(description)
        return .object(o)
    }

    private func arrayOf(_ items: JSONValue, _ description: String? = nil) -> JSONValue {
        var o = JSONObject(["type": str("array"), "items": items])
        if let description { o["description"] = str(description) }
        return .object(o)
    }

    /// An object schema; `closed` adds `additionalProperties: false`.
    private func objectSchema(_ properties: [(String, JSONValue)], required: [String],
                              closed: Bool = false, _ description: String? = nil) -> JSONValue {
        var o = JSONObject(["type": str("object")])
        if let description { o["description"] = str(description) }
        if !required.isEmpty { o["required"] = .array(required.map(str)) }
        o["properties"] = obj(properties)
        if closed { o["additionalProperties"] = .bool(false) }
        return .object(o)
    }

    /// Largest seed: 2^63 − 1.
    private var maxSeed: Int64 { .max }
    /// Largest `offset`: 2^53 − 1, so every index stays exact as a JSON number.
    private var maxOffset: Int64 { 9_007_199_254_740_991 }
}

// MARK: - The document

private struct Builder {
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
            ]),
            "paths": paths(),
            "components": components(),
        ])
    }

    private func info() -> JSONValue {
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
            "version": str("1.0.0"),
            "description": str(text),
        ])
    }

    // MARK: Paths

    private func paths() -> JSONValue {
        let name = obj(["$ref": str("#/components/parameters/ModelName")])
        let posts: [ErrorStatus] = [.invalidArgument, .notFound, .payloadTooLarge, .unsupportedMediaType,
                                    .nonFinite, .overloaded, .unavailable, .deadlineExceeded]
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
                    responses: [("200", jsonResponse("Log-likelihoods, bits per dimension and latents.",
                                                     schemaRef("LikelihoodResponse")))]
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
                    responses: [("200", jsonResponse("The latents.", schemaRef("EncodeResponse")))]
                        + posts.map(statusResponse),
                    secured: true),
            ]),
        ])
    }

    private func operation(id: String, tag: String, summary: String, description: String,
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

    private func requestBody(_ schema: String) -> JSONValue {
        obj([
            "required": .bool(true),
            "content": obj(["application/json": obj(["schema": schemaRef(schema)])]),
        ])
    }

    private func response(_ description: String, content: [(String, JSONValue)],
                          headers: [(String, JSONValue)] = []) -> JSONValue {
        obj([
            "description": str(description),
            "headers": obj([("X-Request-Id", headerRef("X-Request-Id"))] + headers),
            "content": obj(content),
        ])
    }

    private func jsonResponse(_ description: String, _ schema: JSONValue, example: JSONValue? = nil) -> JSONValue {
        var media = JSONObject(["schema": schema])
        if let example { media["example"] = example }
        return response(description, content: [("application/json", .object(media))])
    }

    private func headerRef(_ name: String) -> JSONValue {
        obj(["$ref": str("#/components/headers/\(name)")])
    }

    // MARK: Error answers (rows of `ErrorStatus.all`)

    /// The error answers this server can give: the table, less 401 without auth.
    private var errorRows: [ErrorStatus] {
        ErrorStatus.all.filter { $0 != .unauthorized || auth }
    }

    private func statusResponse(_ row: ErrorStatus) -> (String, JSONValue) {
        (String(row.status), obj(["$ref": str("#/components/responses/\(row.component)")]))
    }

    private func errorResponse(_ row: ErrorStatus) -> JSONValue {
        response(row.description, content: [("application/json", obj([
            "schema": schemaRef("Error"),
            "example": obj(["error": obj(["code": str(row.code), "message": str(row.example(limits))])]),
        ]))], headers: row.headers.map { ($0.rawValue, headerRef($0.rawValue)) })
    }

    /// A header's component: what it means and its schema.
    private func headerComponent(_ header: ErrorStatus.Header) -> JSONValue {
        let (description, schema): (String, JSONValue) = switch header {
        case .retryAfter: ("Seconds to wait before retrying.", obj(["type": str("integer"), "minimum": int(0)]))
        case .wwwAuthenticate: ("The authentication scheme to use (Bearer).", obj(["type": str("string")]))
        case .allow: ("The methods the path takes, comma-separated.", obj(["type": str("string")]))
        }
        return obj(["description": str(description), "required": .bool(true), "schema": schema])
    }

    // MARK: Components

    private func components() -> JSONValue {
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

    private func headers() -> JSONValue {
        let carried = ErrorStatus.Header.allCases.filter { h in errorRows.contains { $0.headers.contains(h) } }
        return obj([
            ("X-Request-Id", obj([
                "description": str("Identifier of the request, for correlating logs."),
                "schema": obj(["type": str("string")]),
            ])),
        ] + carried.map { ($0.rawValue, headerComponent($0)) })
    }

    private func schemas() -> JSONValue {
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

    private func errorSchema() -> JSONValue {
        let codes = errorRows.map(\.code)
        return objectSchema([
            ("error", objectSchema([
                ("code", enumeration(codes, "Machine-readable code: " + codes.joined(separator: ", ") + ".")),
                ("message", string("Human-readable message; names the offending field where there is one.")),
            ], required: ["code", "message"], closed: true)),
        ], required: ["error"], closed: true, "Every error answer.")
    }

    private func modelInfo() -> JSONValue {
        objectSchema([
            ("name", string("Model name.")),
            ("description", string("What the model is.")),
            ("sde", schemaRef("SDEInfo")),
            ("data_shape", arrayOf(integer(min: 1), "Shape of one data point ([D] for vectors, [C, H, W] for images).")),
            ("network", schemaRef("NetworkInfo")),
            ("parameters", integer(min: 0, "Number of network parameters.")),
            ("levels", integer(min: 1, "Integer levels of the data (e.g. 256 for 8-bit images), when the model has them.")),
        ], required: ["name", "description", "sde", "data_shape", "network", "parameters"],
           "One model's metadata.")
    }

    private func sdeInfo() -> JSONValue {
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

    private func networkInfo() -> JSONValue {
        obj([
            "type": str("object"),
            "description": str("The score network: its type and integer hyperparameters."),
            "required": .array([str("type")]),
            "properties": obj(["type": string("Network type (mlp, gmm, empirical, ...).")]),
            "additionalProperties": obj(["type": str("integer")]),
        ])
    }

    // MARK: Request fields

    private func timeoutMs() -> JSONValue {
        integer(min: 1, max: Int64(limits.maxTimeoutMs),
                "Deadline in milliseconds (default \(limits.defaultTimeoutMs)); past it the answer is 504 and the work is stopped.")
    }

    private func points(_ description: String, minItems: Int? = nil) -> JSONValue {
        var o = JSONObject(["$ref": str("#/components/schemas/Points")])
        if let minItems { o["minItems"] = int(minItems) }
        o["maxItems"] = int(limits.maxPoints)
        o["description"] = str(description)
        return .object(o)
    }

    private func seed(_ description: String) -> JSONValue {
        integer(min: 0, max: maxSeed, format: "int64", description)
    }

    private func tolerance(_ description: String) -> JSONValue {
        number(exclusiveMin: int(0), exclusiveMax: int(1), default: .number(1e-5), description)
    }

    private func eps(_ description: String) -> JSONValue {
        number(exclusiveMin: int(0), exclusiveMax: int(1), description)
    }

    private func estimator(_ description: String) -> JSONValue {
        enumeration(DivergenceEstimator.allCases.map(\.rawValue), description)
    }

    private func noise() -> JSONValue {
        enumeration(ProbeNoise.allCases.map(\.rawValue), default: ProbeNoise.rademacher.rawValue,
                    "Hutchinson probe distribution (default rademacher).")
    }

    private func probes() -> JSONValue {
        integer(min: 1, max: 256, default: 1, "Hutchinson probes per evaluation (default 1).")
    }

    private func sampleRequest() -> JSONValue {
        objectSchema([
            ("n", integer(min: 1, max: Int64(limits.maxN), default: 1,
                          "Number of samples (default 1); with `latents`, their count.")),
            ("seed", seed("Seed (default random; the answer echoes it): sample i is a pure function of (model, parameters, seed, i).")),
            ("offset", integer(min: 0, max: maxOffset, default: 0,
                               "Index of the first sample: the answer holds samples offset … offset+n−1 of the seed's sequence (default 0); a 400 with `latents` or `corrector: langevin`.")),
            ("sampler", enumeration(SamplerKind.allCases.map(\.rawValue), default: SamplerKind.pc.rawValue,
                                    "Sampler (default pc): euler_maruyama, reverse_diffusion, ancestral (vp, ve), pc (predictor + corrector), ode (probability flow), dpm_solver.")),
            ("steps", integer(min: 1, max: Int64(limits.maxSteps),
                              "Time steps of fixed-step samplers (default 1000; dpm_solver: 20); SDE samplers and pc evaluate at linspace(T, eps, steps), fixed-step ODE methods take `steps` equal intervals.")),
            ("predictor", enumeration(PredictorKind.allCases.map(\.rawValue),
                                      "Predictor used by pc (default reverse_diffusion for ve/ve_power, euler_maruyama for vp/subvp).")),
            ("corrector", enumeration(CorrectorKind.allCases.map(\.rawValue),
                                      "Corrector used by pc (default annealed_langevin for ve/ve_power, none for vp/subvp); langevin averages norms over the request's n samples, so its samples depend on n.")),
            ("snr", number(exclusiveMin: int(0), max: int(10), default: .number(0.16),
                           "Corrector signal-to-noise ratio (default 0.16).")),
            ("corrector_steps", integer(min: 0, max: 100, default: 1, "Corrector steps per time step (default 1).")),
            ("method", enumeration(ODEMethod.allCases.map(\.rawValue), default: ODEMethod.rk45.rawValue,
                                   "ODE method (default rk45): euler, heun, rk4 take `steps` fixed steps; rk45 is adaptive, per sample.")),
            ("rtol", tolerance("Relative tolerance of rk45 (default 1e-5).")),
            ("atol", tolerance("Absolute tolerance of rk45 (default 1e-5).")),
            ("order", integer(min: 1, max: 3, default: 3, "dpm_solver order: multistep DPM-Solver++ of order 1–3 (default 3).")),
            ("denoise", boolean("Return the noise-free mean of the last step (SDE samplers) or take one extra Tweedie step (ode; +1 nfe); default true, false with log_likelihood (true with it is a 400).")),
            ("eps", eps("Smallest time (default: the model's sampling eps).")),
            ("log_likelihood", boolean(default: false, "With sampler ode: also return each sample's log-likelihood (nats, data space) and bits per dimension (default false).")),
            ("estimator", estimator("Divergence estimator for log_likelihood (default exact when D ≤ 16, else hutchinson).")),
            ("noise", noise()),
            ("probes", probes()),
            ("latents", points("Prior latents x(T) in model space to decode deterministically (ode, dpm_solver); n is then their count (default none).", minItems: 1)),
            ("timeout_ms", timeoutMs()),
        ], required: [], closed: true, "Sampling parameters; every field is optional.")
    }

    private func sampleResponse() -> JSONValue {
        objectSchema([
            ("model", string("Model name.")),
            ("n", integer(min: 0, "Number of samples returned.")),
            ("seed", seed("The seed used.")),
            ("shape", arrayOf(integer(min: 1), "Shape of one sample (the model's data shape).")),
            ("samples", schemaRef("Points", ["description": str("The samples, in data space.")])),
            ("nfe", arrayOf(integer(min: 0), "Network evaluations per sample.")),
            ("log_likelihood", arrayOf(number(), "Log-likelihood of each sample in nats, data space (only with `log_likelihood: true`).")),
            ("bits_per_dim", arrayOf(number(), "Bits per dimension of each sample (only with `log_likelihood: true`).")),
            ("elapsed_ms", number("Wall time of the request in milliseconds.")),
        ], required: ["model", "n", "seed", "shape", "samples", "nfe", "elapsed_ms"])
    }

    private func likelihoodRequest() -> JSONValue {
        objectSchema([
            ("x", points("Points in data space.", minItems: 1)),
            ("estimator", estimator("Divergence by the exact trace or the Hutchinson–Skilling estimator (default exact when D ≤ 16, else hutchinson).")),
            ("noise", noise()),
            ("probes", probes()),
            ("rtol", tolerance("Relative tolerance of the ODE solver (default 1e-5).")),
            ("atol", tolerance("Absolute tolerance of the ODE solver (default 1e-5).")),
            ("eps", eps("Smallest time (default: the model's likelihood eps).")),
            ("seed", seed("Seed of the Hutchinson probes and dequantization draws (default random; the answer echoes it).")),
            ("dequantize", integer(min: 0, max: 1000, default: 0,
                                   "Number of uniform dequantization draws to average (needs the model's levels); 0 = none (default).")),
            ("timeout_ms", timeoutMs()),
        ], required: ["x"], closed: true, "Points to evaluate; only `x` is required.")
    }

    private func likelihoodResponse() -> JSONValue {
        objectSchema([
            ("log_likelihood", arrayOf(number(), "Log-likelihood of each point in nats, data space (the ODE likelihood: log p_eps(x) + log π(z) − log p_T(z)).")),
            ("bits_per_dim", arrayOf(number(), "−log_likelihood / (D ln 2); with dequantization, in units of the integer levels.")),
            ("latents", schemaRef("Points", ["description": str("Latents z = x(T) in model space, one per point.")])),
            ("nfe", arrayOf(integer(min: 0), "Network evaluations per point.")),
            ("seed", seed("The seed used.")),
            ("elapsed_ms", number("Wall time of the request in milliseconds.")),
        ], required: ["log_likelihood", "bits_per_dim", "latents", "nfe", "seed", "elapsed_ms"])
    }

    private func scoreRequest() -> JSONValue {
        let time = number(exclusiveMin: int(0), max: int(1))
        return objectSchema([
            ("x", points("Points in data space.", minItems: 1)),
            ("t", obj([
                "oneOf": .array([time, { () -> JSONValue in
                    guard case .object(var a) = arrayOf(time) else { return arrayOf(time) }
                    a["minItems"] = int(1)
                    return .object(a)
                }()]),
                "description": str("Time in (0, 1]: one number for every point, or an array of times, one per point."),
            ])),
            ("timeout_ms", timeoutMs()),
        ], required: ["x", "t"], closed: true, "Points and the time at which to evaluate the score.")
    }

    private func encodeRequest() -> JSONValue {
        objectSchema([
            ("x", points("Points in data space.", minItems: 1)),
            ("rtol", tolerance("Relative tolerance of the ODE solver (default 1e-5).")),
            ("atol", tolerance("Absolute tolerance of the ODE solver (default 1e-5).")),
            ("eps", eps("Start time of the probability-flow ODE, integrated from eps to T (default: the model's likelihood eps).")),
            ("timeout_ms", timeoutMs()),
        ], required: ["x"], closed: true, "Points to encode; only `x` is required.")
    }
}
