import Foundation
import Testing
import ScoreHTTP
import ScoreJSON

@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    // MARK: Helpers (static, so they cannot clash with other test files' helpers)

    /// The value at a path of object keys, nil when any step is missing.
    static func at(_ value: JSONValue?, _ keys: String...) -> JSONValue? {
        var current = value
        for key in keys {
            guard case .object(let o)? = current else { return nil }
            current = o[key]
        }
        return current
    }

    static func keys(_ value: JSONValue?) -> [String] {
        guard case .object(let o)? = value else { return [] }
        return o.keys
    }

    /// Resolves a local reference `#/a/b` (JSON Pointer, with ~0 and ~1 escapes).
    static func resolve(_ ref: String, in document: JSONValue) -> JSONValue? {
        guard ref.hasPrefix("#/") else { return nil }
        var current: JSONValue? = document
        for token in ref.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            current = Self.at(current, key)
            if current == nil { return nil }
        }
        return current
    }

    /// Follows `$ref` until a value without one.
    static func deref(_ value: JSONValue?, in document: JSONValue) -> JSONValue? {
        var current = value
        var hops = 0
        while case .string(let ref)? = Self.at(current, "$ref"), hops < 16 {
            current = resolve(ref, in: document)
            hops += 1
        }
        return current
    }

    /// Every `$ref` string in the tree, with the path where it appears.
    static func refs(in value: JSONValue, path: String = "#") -> [(path: String, ref: String)] {
        switch value {
        case .object(let o):
            var found: [(String, String)] = []
            for (k, v) in o.pairs {
                if k == "$ref", case .string(let r) = v { found.append((path, r)) }
                found += refs(in: v, path: path + "/" + k)
            }
            return found
        case .array(let items):
            return items.enumerated().flatMap { refs(in: $1, path: path + "/\($0)") }
        default:
            return []
        }
    }

    /// Whether any object in the tree has `key`.
    static func contains(key: String, in value: JSONValue) -> Bool {
        switch value {
        case .object(let o): o.keys.contains(key) || o.pairs.contains { contains(key: key, in: $0.value) }
        case .array(let items): items.contains { contains(key: key, in: $0) }
        default: false
        }
    }

    static let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// (path, method, operation) for every operation of the document.
    static func operations(_ document: JSONValue) -> [(path: String, method: String, op: JSONValue)] {
        guard case .object(let paths)? = Self.at(document, "paths") else { return [] }
        var out: [(String, String, JSONValue)] = []
        for (path, item) in paths.pairs {
            guard case .object(let o) = item else { continue }
            for (method, op) in o.pairs where methods.contains(method) { out.append((path, method, op)) }
        }
        return out
    }

    static func requestSchema(_ document: JSONValue, _ path: String) -> JSONValue? {
        deref(Self.at(document, "paths", path, "post", "requestBody", "content", "application/json", "schema"), in: document)
    }

    static func stringArray(_ value: JSONValue?) -> [String]? {
        guard case .array(let items)? = value else { return nil }
        return items.compactMap { if case .string(let s) = $0 { s } else { nil } }
    }

    static let posts = ["/v1/models/{name}/sample", "/v1/models/{name}/likelihood",
                        "/v1/models/{name}/score", "/v1/models/{name}/encode"]

    // MARK: Tests

    @Test("encodes to JSON that parses back to the same document", arguments: [false, true])
    func encodes(auth: Bool) throws {
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: auth)
        let text = try document.encoded()
        #expect(text.hasPrefix("{\"openapi\":\"3.1.0\""))
        #expect(try JSONValue.parse(text) == document)
        #expect(Self.at(document, "info", "title") == .string("ScoreServe"))
        #expect(Self.at(document, "info", "version") == .string("1.0.0"))
        #expect(Self.at(document, "info", "description") != nil)
    }

    @Test("has every path with exactly its methods")
    func paths() {
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: false)
        let expected: [String: Set<String>] = [
            "/healthz": ["get"], "/readyz": ["get"], "/metrics": ["get"], "/openapi.json": ["get"],
            "/v1/models": ["get"], "/v1/models/{name}": ["get"],
            "/v1/models/{name}/sample": ["post"], "/v1/models/{name}/likelihood": ["post"],
            "/v1/models/{name}/score": ["post"], "/v1/models/{name}/encode": ["post"],
            "/v2": ["get"], "/v2/health/live": ["get"], "/v2/health/ready": ["get"],
            "/v2/models/{name}": ["get"], "/v2/models/{name}/ready": ["get"], "/v2/models/{name}/infer": ["post"],
            "/v2/models/{name}/versions/{version}": ["get"], "/v2/models/{name}/versions/{version}/ready": ["get"],
            "/v2/models/{name}/versions/{version}/infer": ["post"],
        ]
        #expect(Set(Self.keys(Self.at(document, "paths"))) == Set(expected.keys))
        // The routes the server answers are the routes the document has.
        #expect(Set(ScoreAPI.routes) == Set(expected.keys))
        for (path, methods) in expected {
            let present = Set(Self.keys(Self.at(document, "paths", path)).filter { Self.methods.contains($0) })
            #expect(present == methods, "\(path)")
        }
    }

    @Test("every operation has a unique operationId, a summary and a 200")
    func operationsAreNamed() {
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: true)
        let ops = Self.operations(document)
        #expect(ops.count == 19)
        var ids = Set<String>()
        for (path, method, op) in ops {
            guard case .string(let id)? = Self.at(op, "operationId") else {
                Issue.record("\(method) \(path) has no operationId"); continue
            }
            #expect(ids.insert(id).inserted, "duplicate operationId \(id)")
            #expect(Self.at(op, "summary") != nil, "\(method) \(path)")
            #expect(Self.at(op, "responses", "200") != nil, "\(method) \(path)")
        }
    }

    @Test("service endpoints answer what the contract says")
    func serviceEndpoints() {
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: false)
        let health = Self.deref(Self.at(document, "paths", "/healthz", "get", "responses", "200", "content", "application/json", "schema"), in: document)
        #expect(Self.stringArray(Self.at(health, "required")) == ["status"])
        let ready = Self.at(document, "paths", "/readyz", "get", "responses")
        #expect(Set(Self.keys(ready)) == ["200", "503"])
        #expect(Self.at(ready, "503", "content", "application/json", "example") == .object(JSONObject(["ready": .bool(false)])))
        #expect(Self.at(document, "paths", "/metrics", "get", "responses", "200", "content", "text/plain", "schema", "type") == .string("string"))
        #expect(Self.at(document, "paths", "/openapi.json", "get", "responses", "200", "content", "application/json", "schema", "type") == .string("object"))
        #expect(Set(Self.keys(Self.at(document, "paths", "/v1/models/{name}", "get", "responses"))) == ["200", "404"])
    }

    @Test("limits become schema maximums")
    func limits() {
        var limits = APILimits()
        limits.maxN = 77
        limits.maxSteps = 55
        limits.maxPoints = 33
        limits.maxTimeoutMs = 4444
        let document = OpenAPIDocument.make(limits: limits, authEnabled: false)
        let sample = Self.requestSchema(document, "/v1/models/{name}/sample")
        #expect(Self.at(sample, "properties", "n", "maximum") == .integer(77))
        #expect(Self.at(sample, "properties", "n", "minimum") == .integer(1))
        #expect(Self.at(sample, "properties", "steps", "maximum") == .integer(55))
        #expect(Self.at(sample, "properties", "latents", "maxItems") == .integer(33))
        #expect(Self.at(sample, "properties", "seed", "maximum") == .integer(Int64.max))
        #expect(Self.at(sample, "properties", "offset", "maximum") == .integer(9_007_199_254_740_991))
        for path in Self.posts {
            let schema = Self.requestSchema(document, path)
            #expect(Self.at(schema, "properties", "timeout_ms", "maximum") == .integer(4444), "\(path)")
            #expect(Self.at(schema, "properties", "timeout_ms", "minimum") == .integer(1), "\(path)")
            if path != "/v1/models/{name}/sample" {
                #expect(Self.at(schema, "properties", "x", "maxItems") == .integer(33), "\(path)")
                #expect(Self.at(schema, "properties", "x", "minItems") == .integer(1), "\(path)")
                #expect(Self.stringArray(Self.at(schema, "required"))?.contains("x") == true, "\(path)")
            }
        }
        let likelihood = Self.requestSchema(document, "/v1/models/{name}/likelihood")
        #expect(Self.at(likelihood, "properties", "dequantize", "maximum") == .integer(1000))
        #expect(Self.at(likelihood, "properties", "probes", "maximum") == .integer(256))
    }

    @Test("request bodies are required JSON objects that reject unknown fields, every field described")
    func requestBodies() {
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: false)
        for path in Self.posts {
            #expect(Self.at(document, "paths", path, "post", "requestBody", "required") == .bool(true), "\(path)")
            let schema = Self.requestSchema(document, path)
            #expect(Self.at(schema, "type") == .string("object"), "\(path)")
            #expect(Self.at(schema, "additionalProperties") == .bool(false), "\(path)")
            for name in Self.keys(Self.at(schema, "properties")) {
                #expect(Self.at(schema, "properties", name, "description") != nil, "\(path) \(name)")
            }
        }
        let sample = Self.requestSchema(document, "/v1/models/{name}/sample")
        #expect(Set(Self.keys(Self.at(sample, "properties"))) == [
            "n", "seed", "offset", "sampler", "steps", "predictor", "corrector", "snr", "corrector_steps",
            "method", "rtol", "atol", "order", "denoise", "eps", "log_likelihood", "estimator", "noise",
            "probes", "latents", "timeout_ms",
        ])
        #expect(Self.at(sample, "required") == nil)
        let score = Self.requestSchema(document, "/v1/models/{name}/score")
        #expect(Self.stringArray(Self.at(score, "required")) == ["x", "t"])
        #expect(Set(Self.keys(Self.at(score, "properties"))) == ["x", "t", "timeout_ms"])
        let encode = Self.requestSchema(document, "/v1/models/{name}/encode")
        #expect(Set(Self.keys(Self.at(encode, "properties"))) == ["x", "rtol", "atol", "eps", "timeout_ms"])
        let likelihood = Self.requestSchema(document, "/v1/models/{name}/likelihood")
        #expect(Set(Self.keys(Self.at(likelihood, "properties"))) == [
            "x", "estimator", "noise", "probes", "rtol", "atol", "eps", "seed", "dequantize", "timeout_ms",
        ])
    }

    @Test("enums carry the contract's values")
    func enums() {
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: false)
        let sample = Self.requestSchema(document, "/v1/models/{name}/sample")
        func values(_ field: String) -> [String]? { Self.stringArray(Self.at(sample, "properties", field, "enum")) }
        #expect(values("sampler") == ["euler_maruyama", "reverse_diffusion", "ancestral", "pc", "ode", "dpm_solver"])
        #expect(values("predictor") == ["euler_maruyama", "reverse_diffusion", "ancestral"])
        #expect(values("corrector") == ["annealed_langevin", "langevin", "none"])
        #expect(values("method") == ["euler", "heun", "rk4", "rk45"])
        #expect(values("estimator") == ["exact", "hutchinson"])
        #expect(values("noise") == ["rademacher", "gaussian"])
        let sde = Self.deref(Self.at(document, "components", "schemas", "ModelInfo", "properties", "sde"), in: document)
        #expect(Self.stringArray(Self.at(sde, "properties", "type", "enum")) == ["vp", "subvp", "ve", "ve_power", "vp_discrete"])
    }

    @Test("POSTs document every error status with the Error schema; 429 has Retry-After")
    func errorResponses() {
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: false)
        for path in Self.posts {
            let responses = Self.at(document, "paths", path, "post", "responses")
            // Only sampling negotiates an image answer, so only it can be 406.
            let negotiated: Set<String> = path.hasSuffix("/sample") ? ["406"] : []
            #expect(Set(Self.keys(responses)) == Set(["200", "400", "404", "413", "415", "422", "429", "503", "504"])
                        .union(negotiated), "\(path)")
            for status in Self.keys(responses) where status != "200" {
                let response = Self.deref(Self.at(responses, status), in: document)
                let schema = Self.at(response, "content", "application/json", "schema", "$ref")
                #expect(schema == .string("#/components/schemas/Error"), "\(path) \(status)")
            }
            let tooMany = Self.deref(Self.at(responses, "429"), in: document)
            #expect(Self.at(tooMany, "headers", "Retry-After") != nil)
        }
        let sample200 = Self.at(document, "paths", "/v1/models/{name}/sample", "post", "responses", "200", "content")
        #expect(Set(Self.keys(sample200)) == ["application/json", "application/x-npy", "image/png", "text/event-stream"])
        for operation in ["likelihood", "encode"] {
            let content = Self.at(document, "paths", "/v1/models/{name}/\(operation)", "post", "responses", "200", "content")
            #expect(Set(Self.keys(content)) == ["application/json", "text/event-stream"], "\(operation)")
        }
        #expect(Self.at(sample200, "application/x-npy", "schema", "format") == .string("binary"))
        let error = Self.at(document, "components", "schemas", "Error")
        #expect(Self.at(error, "additionalProperties") == .bool(false))
        #expect(Self.at(error, "properties", "error", "additionalProperties") == .bool(false))
        #expect(Self.stringArray(Self.at(error, "properties", "error", "required")) == ["code", "message"])
    }

    /// Every error code the server sends, as the contract and `APIError` name them.
    static let errorCodes = ["invalid_argument", "unauthorized", "not_found", "method_not_allowed", "not_acceptable",
                             "payload_too_large", "unsupported_media_type", "non_finite", "overloaded", "internal",
                             "unavailable", "deadline_exceeded"]

    @Test("error codes, responses and their headers come from the error table", arguments: [false, true])
    func errorTable(auth: Bool) {
        #expect(ErrorStatus.all.map(\.code) == Self.errorCodes)
        #expect(Set(ErrorStatus.all.map(\.status)).count == ErrorStatus.all.count, "one row per status")
        #expect(Set(ErrorStatus.all.map(\.component)).count == ErrorStatus.all.count)
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: auth)
        // The code list: the table's codes (401 only with auth), not_acceptable and internal included.
        let rows = ErrorStatus.all.filter { auth || $0.code != "unauthorized" }
        let code = Self.at(document, "components", "schemas", "Error", "properties", "error", "properties", "code")
        let codes = Self.stringArray(Self.at(code, "enum"))
        #expect(codes == rows.map(\.code))
        #expect(codes?.contains("not_acceptable") == true && codes?.contains("internal") == true)
        guard case .string(let text)? = Self.at(code, "description") else { Issue.record("code has no description"); return }
        for row in rows { #expect(text.contains(row.code), "\(row.code) in \(text)") }
        // One response component per row, its example in the row's code, its headers the row's.
        #expect(Self.keys(Self.at(document, "components", "responses")) == rows.map(\.component))
        for row in rows {
            let response = Self.at(document, "components", "responses", row.component)
            #expect(Self.at(response, "description") == .string(row.description), "\(row.code)")
            #expect(Self.at(response, "content", "application/json", "example", "error", "code") == .string(row.code))
            #expect(Self.at(response, "content", "application/json", "example", "error", "message") == .string(row.example(APILimits())))
            #expect(Self.keys(Self.at(response, "headers")) == ["X-Request-Id"] + row.headers.map(\.rawValue), "\(row.code)")
            #expect(APIError.code(for: row.status) == row.code)
        }
        #expect(APIError.code(for: 418) == "internal")
        let headers = Set(Self.keys(Self.at(document, "components", "headers")))
        #expect(headers == Set(["X-Request-Id", "Retry-After", "Allow"] + (auth ? ["WWW-Authenticate"] : [])))
        #expect(Self.at(document, "components", "responses", "NotFound", "content", "application/json", "example", "error", "message")
                == .string("no model named 'moons'"))
    }

    @Test("every $ref resolves to an existing component", arguments: [false, true])
    func refsResolve(auth: Bool) {
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: auth)
        let found = Self.refs(in: document)
        #expect(found.count > 20)
        for (path, ref) in found {
            #expect(ref.hasPrefix("#/components/"), "\(path): \(ref)")
            #expect(Self.resolve(ref, in: document) != nil, "\(path): \(ref) does not resolve")
        }
    }

    @Test("auth adds bearerAuth to every /v1 and /v2 operation but the health checks, with a 401")
    func authEnabled() {
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: true)
        let scheme = Self.at(document, "components", "securitySchemes", "bearerAuth")
        #expect(Self.at(scheme, "type") == .string("http"))
        #expect(Self.at(scheme, "scheme") == .string("bearer"))
        #expect(Self.at(document, "security") == nil)
        for (path, method, op) in Self.operations(document) {
            if path.hasPrefix("/v1/") || (path.hasPrefix("/v2") && !path.hasPrefix("/v2/health")) {
                let bearer = JSONValue.array([.object(JSONObject(["bearerAuth": .array([])]))])
                #expect(Self.at(op, "security") == bearer, "\(method) \(path)")
                let unauthorized = Self.deref(Self.at(op, "responses", "401"), in: document)
                let error = path.hasPrefix("/v2") ? "V2Error" : "Error"
                #expect(Self.at(unauthorized, "content", "application/json", "schema", "$ref") == .string("#/components/schemas/\(error)"), "\(method) \(path)")
                #expect(Self.at(unauthorized, "headers", "WWW-Authenticate") != nil, "\(method) \(path)")
            } else {
                #expect(Self.at(op, "security") == nil, "\(method) \(path)")
                #expect(Self.at(op, "responses", "401") == nil, "\(method) \(path)")
            }
        }
    }

    @Test("without auth there is no security and no 401")
    func authDisabled() {
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: false)
        #expect(Self.at(document, "components", "securitySchemes") == nil)
        #expect(!Self.contains(key: "security", in: document))
        #expect(!Self.contains(key: "401", in: document))
        #expect(!Self.contains(key: "WWW-Authenticate", in: document))
    }

    @Test("the model name path parameter is a required string with the name pattern")
    func nameParameter() {
        let document = OpenAPIDocument.make(limits: APILimits(), authEnabled: false)
        for path in ["/v1/models/{name}"] + Self.posts {
            guard case .array(let params)? = Self.at(document, "paths", path, "parameters"), let first = params.first else {
                Issue.record("\(path) has no parameters"); continue
            }
            let p = Self.deref(first, in: document)
            #expect(Self.at(p, "name") == .string("name"))
            #expect(Self.at(p, "in") == .string("path"))
            #expect(Self.at(p, "required") == .bool(true))
            #expect(Self.at(p, "schema", "type") == .string("string"))
            #expect(Self.at(p, "schema", "pattern") == .string("^[A-Za-z0-9_.-]+$"))
        }
    }
}
