import Foundation
import Testing
import ScoreCore
import ScoreHTTP
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

extension APITests {
    /// Error answers the API gives, in memory (the transport's own, 413 and malformed
    /// HTTP, are in `ServerIntegrationTests.Errors`).
    @Suite("Error answers")
    struct Errors {
        static let longJob = ServerIntegrationTests.Errors.longJob

        @Test func badRequests() async throws {
            let cases: [(path: String, body: String, mentions: [String])] = [
                ("gmm-vp/sample", #"{"n":"#, ["malformed"]),
                ("gmm-vp/sample", "", ["malformed"]),
                ("gmm-vp/sample", #"{"n":1,"n":2}"#, ["malformed"]),
                ("gmm-vp/sample", "[1,2]", ["object"]),
                ("gmm-vp/sample", #"{"n":"3"}"#, ["n:", "integer"]),
                ("gmm-vp/sample", #"{"n":0}"#, ["n:", "between"]),
                ("gmm-vp/sample", #"{"n":2.5}"#, ["n:"]),
                ("gmm-vp/sample", #"{"n":100001}"#, ["n:"]),
                ("gmm-vp/sample", #"{"steps":0}"#, ["steps"]),
                ("gmm-vp/sample", #"{"seed":-1}"#, ["seed"]),
                ("gmm-vp/sample", #"{"sampler":"magic"}"#, ["sampler", "magic"]),
                ("gmm-vp/sample", #"{"sampler":7}"#, ["sampler", "string"]),
                ("gmm-vp/sample", #"{"denoise":"yes"}"#, ["denoise"]),
                ("gmm-vp/sample", #"{"nn":3}"#, ["nn", "unknown"]),
                ("gmm-vp/sample", #"{"steps":5,"typo_field":1}"#, ["typo_field", "unknown"]),
                ("gmm-subvp/sample", #"{"sampler":"ancestral","steps":5}"#, ["sampler", "subvp"]),
                ("gmm-subvp/sample", #"{"predictor":"ancestral","steps":5}"#, ["predictor", "subvp"]),
                ("gmm-vp/sample", #"{"sampler":"ode","steps":5}"#, ["steps", "rk45"]),
                ("gmm-vp/sample", #"{"sampler":"ancestral","steps":15}"#, ["steps", "beta_max", "ancestral"]),
                ("gmm-vp/sample", #"{"sampler":"pc","predictor":"reverse_diffusion","steps":19}"#, ["steps", "beta_max"]),
                ("gmm-vp/sample", #"{"sampler":"ode","log_likelihood":true,"denoise":true}"#, ["denoise"]),
                ("gmm-vp/sample", #"{"offset":1,"corrector":"langevin","steps":5}"#, ["offset"]),
                ("gmm-vp/sample", #"{"order":2}"#, ["order", "dpm_solver"]),
                ("gmm-vp/sample", #"{"eps":2}"#, ["eps"]),
                ("gmm-vp/sample", #"{"timeout_ms":0}"#, ["timeout_ms"]),
                ("gmm-vp/sample", #"{"timeout_ms":600001}"#, ["timeout_ms"]),
                ("gmm-vp/sample", #"{"sampler":"ode","latents":[[1,2,3]]}"#, ["latents[0]"]),
                ("gmm-vp/sample", #"{"sampler":"ode","n":2,"latents":[[1,2]]}"#, ["n:", "latents"]),
                ("gmm-vp/sample", #"{"sampler":"pc","latents":[[1,2]]}"#, ["latents"]),
                ("gmm-vp/sample", #"{"offset":9007199254740992}"#, ["offset"]),
                ("gmm-vp/sample", #"{"offset":9007199254740991,"n":2}"#, ["offset"]),
                ("gmm-vp/sample", #"{"sampler":"ode","offset":1,"latents":[[1,2]]}"#, ["offset"]),
                ("gmm-vp/sample", #"{"probes":2}"#, ["probes", "log_likelihood"]),
                ("gmm-vp/likelihood", #"{"x":[[0,0]],"dequantize":1}"#, ["dequantize", "levels"]),
                ("gmm-vp/likelihood", "{}", ["x", "required"]),
                ("gmm-vp/likelihood", #"{"x":[[1,2,3]]}"#, ["x[0]"]),
                ("gmm-vp/likelihood", #"{"x":[]}"#, ["x"]),
                ("gmm-vp/likelihood", #"{"x":[[0,0]],"rtol":0}"#, ["rtol"]),
                ("gmm-vp/score", #"{"x":[[0,0]],"t":2}"#, ["t:"]),
                ("gmm-vp/score", #"{"x":[[0,0]]}"#, ["t:", "required"]),
                ("gmm-vp/score", #"{"x":[[0,0]],"t":[0.5,0.5]}"#, ["t:"]),
                ("gmm-vp/encode", #"{"x":"a"}"#, ["x:"]),
                ("gmm-vp/encode", #"{"x":[[0,0]],"rtol":0.5,"extra":true}"#, ["extra"]),
            ]
            try await withAPI { s in
                for c in cases {
                    let r = try await s.post("/v1/models/\(c.path)", c.body)
                    expectError(r, 400, code: "invalid_argument", mentions: c.mentions)
                }
                // Nothing was admitted or run for them.
                #expect(s.stepsRun == 0)
            }
        }

        /// Numbers past what the parser holds (64-bit integers, Double) name their field
        /// and the range, as any other out-of-range value does.
        @Test func hugeNumbersNameTheirField() async throws {
            try await withAPI { s in
                let cases: [(String, String, [String])] = [
                    ("sample", #"{"seed":9223372036854775808}"#, ["seed:", "9223372036854775807", "9223372036854775808"]),
                    ("sample", #"{"n":18446744073709551616}"#, ["n:", "between 1 and"]),
                    ("sample", #"{"n": 1e400, "seed": 1}"#, ["n:", "1e400"]),
                    ("sample", #"{"seed": 1, "n": -99999999999999999999}"#, ["n:"]),
                    ("sample", #"{"steps":5,"eps":1e999}"#, ["eps:", "(0, 1)"]),
                    ("sample", #"{"sampler":"ode","latents":[[1e999,0]]}"#, ["latents:"]),
                    ("likelihood", #"{"x":[[0, 0]], "dequantize": 1e400}"#, ["dequantize:"]),
                    ("sample", #"{"nope":1e400}"#, ["nope:", "unknown"]),
                ]
                for (route, body, mentions) in cases {
                    let r = try await s.post("/v1/models/gmm-vp/\(route)", body)
                    expectError(r, 400, code: "invalid_argument", mentions: mentions)
                    #expect(r.error?.message.hasPrefix(mentions[0]) == true, "\(body): \(r)")
                }
                #expect(s.stepsRun == 0)
            }
        }

        @Test func unauthorized() async throws {
            try await withAPI(apiKey: "s3cret-token") { s in
                let none = try await s.get("/v1/models")
                expectError(none, 401, code: "unauthorized", mentions: ["token"])
                #expect(none.header("www-authenticate")?.hasPrefix("Bearer") == true, "\(none)")
                let wrong = try await s.get("/v1/models", headers: [("Authorization", "Bearer s3cret-tokeN")])
                expectError(wrong, 401, code: "unauthorized")
                #expect(wrong.header("www-authenticate") != nil)
                let prefix = try await s.get("/v1/models", headers: [("Authorization", "Bearer s3cret")])
                #expect(prefix.status == 401)
                let basic = try await s.get("/v1/models", headers: [("Authorization", "Basic czNjcmV0LXRva2Vu")])
                #expect(basic.status == 401)
                // Authentication comes before validation: no detail leaks to a caller without the token.
                let post = try await s.post("/v1/models/gmm-vp/sample", "{not json")
                expectError(post, 401)
                let unknown = try await s.get("/v1/models/nope")
                #expect(unknown.status == 401)
                // The service endpoints need no token.
                #expect(try await s.get("/healthz").status == 200)
                #expect(try await s.get("/readyz").status == 200)
                // The right token works.
                let auth = [("Authorization", "Bearer s3cret-token")]
                #expect(try await s.get("/v1/models", headers: auth).status == 200)
                let ok = try await s.post("/v1/models/gmm-vp/sample", #"{"n":1,"seed":1,"steps":5}"#, headers: auth)
                #expect(ok.status == 200, "\(ok)")
            }
        }

        @Test func notFound() async throws {
            try await withAPI { s in
                expectError(try await s.get("/v1/models/nope"), 404, code: "not_found", mentions: ["nope"])
                expectError(try await s.post("/v1/models/nope/sample", #"{"n":1}"#), 404, code: "not_found", mentions: ["nope"])
                expectError(try await s.get("/nothing/here"), 404, code: "not_found", mentions: ["/nothing/here"])
                expectError(try await s.get("/v1/models/"), 404, code: "not_found")
                expectError(try await s.get("/v1/models/gmm-vp/sample/extra"), 404, code: "not_found")
            }
        }

        @Test func methodNotAllowed() async throws {
            try await withAPI { s in
                let delete = try await s.request("DELETE", "/healthz")
                expectError(delete, 405, code: "method_not_allowed", mentions: ["DELETE"])
                #expect(delete.header("allow")?.contains("GET") == true, "\(delete)")
                let get = try await s.get("/v1/models/gmm-vp/sample")
                expectError(get, 405, code: "method_not_allowed")
                #expect(get.header("allow") == "POST", "\(get)")
                let post = try await s.post("/v1/models", "{}")
                expectError(post, 405)
                #expect(post.header("allow")?.contains("GET") == true)
                let put = try await s.request("PUT", "/v1/models/gmm-vp/likelihood", body: Array("{}".utf8))
                expectError(put, 405)
                #expect(put.header("allow") == "POST")
            }
        }

        @Test func unsupportedMediaType() async throws {
            try await withAPI { s in
                let body = #"{"n":1,"seed":1,"steps":5}"#
                let text = try await s.post("/v1/models/gmm-vp/sample", body, headers: [("Content-Type", "text/plain")])
                expectError(text, 415, code: "unsupported_media_type", mentions: ["text/plain"])
                let xml = try await s.post("/v1/models/gmm-vp/score", #"{"x":[[0,0]],"t":0.5}"#,
                                           headers: [("Content-Type", "application/xml")])
                expectError(xml, 415, code: "unsupported_media_type")
                // A web page can send a form, or a body without a type, cross-site without
                // a CORS preflight: neither may start work.
                let form = try await s.post("/v1/models/gmm-vp/sample", body,
                                            headers: [("Content-Type", "application/x-www-form-urlencoded")])
                expectError(form, 415, code: "unsupported_media_type", mentions: ["x-www-form-urlencoded"])
                let untyped = try await s.request("POST", "/v1/models/gmm-vp/sample", body: Array(body.utf8))
                expectError(untyped, 415, code: "unsupported_media_type", mentions: ["no Content-Type"])
                let multipart = try await s.post("/v1/models/gmm-vp/sample", body,
                                                 headers: [("Content-Type", "multipart/form-data; boundary=x")])
                expectError(multipart, 415, code: "unsupported_media_type")
                #expect(s.stepsRun == 0, "a refused body started work")
                // JSON with parameters, and application/*+json, are accepted.
                let charset = try await s.post("/v1/models/gmm-vp/sample", body,
                                               headers: [("Content-Type", "application/json; charset=utf-8")])
                #expect(charset.status == 200, "\(charset)")
                let suffixed = try await s.post("/v1/models/gmm-vp/sample", body,
                                                headers: [("Content-Type", "application/vnd.scoreserve+json")])
                #expect(suffixed.status == 200, "\(suffixed)")
            }
        }

        /// Samples that overflow Float32 in data space are a 422 naming the sample.
        @Test func nonFiniteSamples() async throws {
            try await withAPI { s in
                for sampler in ["euler_maruyama", "dpm_solver"] {
                    let r = try await s.post("/v1/models/gmm-huge/sample", #"{"n":2,"seed":1,"steps":5,"sampler":"\#(sampler)"}"#)
                    expectError(r, 422, code: "non_finite", mentions: ["sample 0"])
                }
                let npy = try await s.post("/v1/models/gmm-huge/sample", #"{"n":1,"seed":1,"steps":5}"#,
                                           headers: [("Accept", "application/x-npy")])
                expectError(npy, 422, code: "non_finite")
                // Inputs that overflow: the message names the point.
                let score = try await s.post("/v1/models/gmm-vp/score", #"{"x":[[0,0],[1e300,1e300]],"t":0.5}"#)
                expectError(score, 422, code: "non_finite", mentions: ["point 1"])
                let ll = try await s.post("/v1/models/gmm-vp/likelihood", #"{"x":[[1e300,1e300]]}"#)
                expectError(ll, 422, code: "non_finite", mentions: ["0"])
                let decode = try await s.post("/v1/models/gmm-vp/sample", #"{"sampler":"ode","latents":[[0,0],[1e300,1e300]]}"#)
                expectError(decode, 422, code: "non_finite", mentions: ["sample 1"])
                // The same request on a model with a sane scale is fine.
                #expect(try await s.post("/v1/models/gmm-vp/sample", #"{"n":2,"seed":1,"steps":5}"#).status == 200)
            }
        }

        /// Past `timeout_ms` the answer is 504 and the engine stops working on it.
        @Test func deadlineExceeded() async throws {
            try await withAPI { s in
                let started = Date()
                let body = #"{"n":32,"seed":1,"steps":100000,"sampler":"euler_maruyama","timeout_ms":300}"#
                let r = try await s.post("/v1/models/gmm-vp/sample", body)
                let elapsed = Date().timeIntervalSince(started)
                expectError(r, 504, code: "deadline_exceeded", mentions: ["deadline"])
                #expect(elapsed < 5, "504 after \(elapsed) s")
                // (A job whose deadline passes while it is still queued never starts: its
                // chunks are dropped, so no step need have run.)
                #expect(await s.waitForEngineIdle(seconds: 2) != nil, "the engine kept running past the deadline")
                // The same for likelihood and encode.
                let ll = try await s.post("/v1/models/gmm-vp/likelihood",
                                          #"{"x":[[0,0],[1,1]],"rtol":1e-9,"atol":1e-9,"timeout_ms":1}"#)
                #expect([504, 200].contains(ll.status), "\(ll)")
                if ll.status != 200 { expectError(ll, 504, code: "deadline_exceeded") }
            }
        }

        @Test func unavailableWhileDraining() async throws {
            try await withAPI { s in
                s.api.state.markDraining()
                for path in ["gmm-vp/sample", "gmm-vp/likelihood", "gmm-vp/score", "gmm-vp/encode"] {
                    expectError(try await s.post("/v1/models/\(path)", #"{"x":[[0,0]],"t":0.5}"#), 503, code: "unavailable")
                }
                // Reads still work while draining.
                #expect(try await s.get("/v1/models").status == 200)
            }
        }
    }
}
