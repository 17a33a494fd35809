import Foundation
import Testing
import ScoreCore
import ScoreHTTP
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

/// What the API answers, driven in memory: `HTTPRequest` values handed to the API's
/// handler, answers read from an in-memory responder (`InMemoryAPI`). Transport
/// behaviour is tested on a real socket (`ServerIntegrationTests`).
@Suite("API answers, in memory", .serialized)
struct APITests {}

extension APITests {
    @Suite("Routes and their answers")
    struct Routes {
        /// An answered job lets go of its responder (and so of its connection's state): a
        /// closure the responder's own disconnect signal holds must not hold it back.
        @Test func answeredJobsReleaseTheirResponder() async throws {
            let memory = InMemoryAPI()
            let request = HTTPRequest(method: "POST", path: "/v1/models/gmm-vp/sample",
                                      headers: ["content-type": "application/json"],
                                      body: Array(#"{"n":2,"seed":1,"steps":5}"#.utf8), id: "release")
            final class Box: @unchecked Sendable { weak var responder: HTTPResponder? }  // written once, before the wait
            let box = Box()
            let status = await withCheckedContinuation { (answered: CheckedContinuation<Int, Never>) in
                let responder = HTTPResponder { answered.resume(returning: $0.status) }
                box.responder = responder
                memory.api.handle(request, responder)
            }
            #expect(status == 200)
            // The engine drops its job (and the closures holding the responder) just after
            // the answer: polled, bounded.
            let deadline = Date().addingTimeInterval(5)
            while box.responder != nil && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(box.responder == nil, "the responder of an answered job is still alive")
        }

        @Test func healthz() async throws {
            try await withAPI { s in
                let r = try await s.get("/healthz")
                #expect(r.status == 200)
                #expect(r.header("content-type")?.hasPrefix("application/json") == true)
                #expect(r.json == .object(JSONObject(["status": .string("ok")])))
                // HEAD is routed to every GET route (the transport drops the body).
                let head = try await s.request("HEAD", "/healthz")
                #expect(head.status == 200)
            }
        }

        @Test func readyzTurnsUnavailableWhenDraining() async throws {
            try await withAPI { s in
                let ready = try await s.get("/readyz")
                #expect(ready.status == 200)
                #expect(ready.json == .object(JSONObject(["ready": .bool(true)])))
                s.api.state.markDraining()
                let draining = try await s.get("/readyz")
                #expect(draining.status == 503)
                #expect(draining.json == .object(JSONObject(["ready": .bool(false)])))
                // Liveness is unaffected; new work is refused with 503 in the error shape.
                #expect(try await s.get("/healthz").status == 200)
                let post = try await s.post("/v1/models/gmm-vp/sample", #"{"n":1,"seed":1,"steps":5}"#)
                expectError(post, 503, code: "unavailable", mentions: ["shutting down"])
            }
        }

        @Test func metricsExposition() async throws {
            try await withAPI { s in
                _ = try await s.get("/healthz")
                _ = try await s.get("/no/such/path")
                let r = try await s.get("/metrics")
                #expect(r.status == 200)
                #expect(r.header("content-type")?.hasPrefix("text/plain") == true)
                let text = r.text
                #expect(text.contains("# TYPE scoreserve_http_requests_total counter"))
                #expect(text.contains(#"scoreserve_http_requests_total{route="/healthz",method="GET",code="200"} 1"#), "\(text)")
                #expect(text.contains(#"code="404""#))
                #expect(text.contains("scoreserve_http_request_duration_seconds_bucket"))
                #expect(text.contains("scoreserve_ready 1"))
            }
        }

        @Test func openAPIDocument() async throws {
            try await withAPI { s in
                let r = try await s.get("/openapi.json")
                #expect(r.status == 200)
                #expect(r.header("content-type")?.hasPrefix("application/json") == true)
                let doc = try #require(r.object, "not a JSON object: \(r)")
                #expect(doc.string("openapi") == "3.1.0")
                guard case .object(let paths)? = doc["paths"] else { Issue.record("no paths"); return }
                for path in ["/healthz", "/readyz", "/metrics", "/v1/models", "/v1/models/{name}",
                             "/v1/models/{name}/sample", "/v1/models/{name}/likelihood",
                             "/v1/models/{name}/score", "/v1/models/{name}/encode"] {
                    #expect(paths[path] != nil, "OpenAPI lacks \(path)")
                }
            }
        }

        @Test func modelList() async throws {
            try await withAPI { s in
                let r = try await s.get("/v1/models")
                #expect(r.status == 200)
                let models = try #require(r.object?.array("models"), "\(r)")
                let names = models.compactMap { v -> String? in
                    if case .object(let o) = v { return o.string("name") } else { return nil }
                }
                #expect(names == ["gmm-huge", "gmm-subvp", "gmm-ve", "gmm-vp"])
                for case .object(let m) in models {
                    for field in ["name", "description", "sde", "data_shape", "network", "parameters"] {
                        #expect(m[field] != nil, "model \(m.string("name") ?? "?") lacks \(field)")
                    }
                    #expect(m["data_shape"] == .array([.integer(2)]))
                }
                let one = try await s.get("/v1/models/gmm-ve")
                #expect(one.status == 200)
                #expect(one.object?.string("name") == "gmm-ve")
                guard case .object(let sde)? = one.object?["sde"] else { Issue.record("no sde: \(one)"); return }
                #expect(sde.string("type") == "ve")
            }
        }

        /// Every sampler answers with the contract's fields, finite samples of the
        /// model's shape, and the same samples for the same seed.
        @Test func everySamplerSamples() async throws {
            let cases: [(model: String, body: String, nfe: Int?)] = [
                ("gmm-vp", #""sampler":"euler_maruyama","steps":20"#, 20),
                ("gmm-vp", #""sampler":"reverse_diffusion","steps":20"#, 20),
                ("gmm-vp", #""sampler":"ancestral","steps":25"#, 25),
                ("gmm-vp", #""sampler":"pc","steps":20"#, 20),
                ("gmm-vp", #""sampler":"pc","steps":20,"corrector":"annealed_langevin","corrector_steps":2"#, 60),
                ("gmm-vp", #""sampler":"pc","steps":20,"predictor":"reverse_diffusion","corrector":"none""#, 20),
                ("gmm-vp", #""sampler":"ode","method":"euler","steps":10"#, 11),
                ("gmm-vp", #""sampler":"ode","method":"heun","steps":10,"denoise":false"#, 20),
                ("gmm-vp", #""sampler":"ode","method":"rk4","steps":5"#, 21),
                ("gmm-vp", #""sampler":"ode","rtol":1e-3,"atol":1e-3"#, nil),
                ("gmm-vp", #""sampler":"dpm_solver","steps":8,"order":2"#, 8),
                ("gmm-ve", #""sampler":"ancestral","steps":20"#, 20),
                ("gmm-ve", #""sampler":"pc","steps":20"#, 40),
                ("gmm-subvp", #""sampler":"euler_maruyama","steps":20"#, 20),
            ]
            try await withAPI { s in
                for c in cases {
                    let body = #"{"n":3,"seed":11,"# + c.body + "}"
                    let r = try await s.post("/v1/models/\(c.model)/sample", body)
                    #expect(r.status == 200, "\(c.model) \(body): \(r)")
                    guard let o = r.object else { Issue.record("not JSON: \(r)"); continue }
                    #expect(o.string("model") == c.model)
                    #expect(o.int("n") == 3)
                    #expect(o.int("seed") == 11)
                    #expect(o["shape"] == .array([.integer(2)]))
                    let samples = o.points("samples") ?? []
                    #expect(samples.count == 3 && samples.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isFinite) },
                            "\(body): \(r)")
                    let nfe = o.numbers("nfe") ?? []
                    #expect(nfe.count == 3 && nfe.allSatisfy { $0 > 0 }, "\(body): \(r)")
                    if let expected = c.nfe { #expect(nfe.allSatisfy { Int($0) == expected }, "\(body): nfe \(nfe)") }
                    #expect((o["elapsed_ms"]?.doubleValue ?? -1) >= 0)
                    #expect(o["log_likelihood"] == nil)
                    // Same seed, same samples.
                    let again = try await s.post("/v1/models/\(c.model)/sample", body)
                    #expect(again.object?["samples"] == o["samples"], "\(body) not reproducible")
                }
            }
        }

        /// score_sde's `langevin` corrector couples a request's samples: it answers (or,
        /// for few samples, may diverge into a 422; the contract calls it unstable for small n).
        @Test func langevinCorrector() async throws {
            try await withAPI { s in
                let body = #"{"n":64,"seed":2,"sampler":"pc","steps":20,"corrector":"langevin","snr":0.05}"#
                let r = try await s.post("/v1/models/gmm-vp/sample", body)
                #expect(r.status == 200, "\(r)")
                #expect(r.object?.points("samples")?.count == 64)
                #expect(r.object?.numbers("nfe")?.allSatisfy { $0 == 40 } == true)
                let small = try await s.post("/v1/models/gmm-vp/sample", #"{"n":3,"seed":11,"sampler":"pc","steps":10,"corrector":"langevin"}"#)
                if small.status != 200 { expectError(small, 422, code: "non_finite", mentions: ["sample"]) }
            }
        }

        /// Without a seed the server draws one, echoes it, and that seed reproduces the answer.
        @Test func randomSeedIsEchoed() async throws {
            try await withAPI { s in
                let a = try await s.post("/v1/models/gmm-vp/sample", #"{"n":2,"steps":10}"#)
                let seed = try #require(a.object?.int("seed"), "\(a)")
                #expect(seed >= 0)
                let b = try await s.post("/v1/models/gmm-vp/sample", #"{"n":2,"steps":10,"seed":\#(seed)}"#)
                #expect(b.object?["samples"] == a.object?["samples"])
                let c = try await s.post("/v1/models/gmm-vp/sample", #"{"n":2,"steps":10}"#)
                #expect(c.object?.int("seed") != seed)
            }
        }

        /// `offset` selects samples of the seed's sequence: for every sampler but langevin,
        /// three uneven shards (3, 3 and 5 of n = 11) join into one request, bit for bit
        /// (log-likelihoods too).
        @Test(arguments: [#""sampler":"euler_maruyama","steps":15"#, #""sampler":"reverse_diffusion","steps":25"#,
                          #""sampler":"ancestral","steps":25"#, #""sampler":"pc","steps":10"#, #""sampler":"ode""#,
                          #""sampler":"ode","method":"rk4","steps":10"#, #""sampler":"dpm_solver","steps":10"#,
                          #""sampler":"ode","log_likelihood":true"#])
        func offsetShardsJoin(flags: String) async throws {
            try await withAPI { s in
                let whole = try await s.post("/v1/models/gmm-vp/sample", #"{"n":11,"seed":5,\#(flags)}"#)
                #expect(whole.status == 200, "\(whole)")
                var samples: [[Double]] = [], likelihoods: [Double] = []
                for (offset, n) in [(0, 3), (3, 3), (6, 5)] {
                    let part = try await s.post("/v1/models/gmm-vp/sample", #"{"n":\#(n),"offset":\#(offset),"seed":5,\#(flags)}"#)
                    samples += part.object?.points("samples") ?? []
                    likelihoods += part.object?.numbers("log_likelihood") ?? []
                }
                #expect(samples == whole.object?.points("samples"), "\(flags)")
                #expect(likelihoods == (whole.object?.numbers("log_likelihood") ?? []), "\(flags)")
            }
        }

        @Test func sampleWithLogLikelihood() async throws {
            try await withAPI { s in
                let r = try await s.post("/v1/models/gmm-vp/sample",
                                         #"{"n":2,"seed":3,"sampler":"ode","log_likelihood":true,"rtol":1e-4,"atol":1e-4}"#)
                #expect(r.status == 200, "\(r)")
                let o = try #require(r.object)
                let ll = try #require(o.numbers("log_likelihood"))
                let bpd = try #require(o.numbers("bits_per_dim"))
                #expect(ll.count == 2 && bpd.count == 2)
                for (l, b) in zip(ll, bpd) {
                    #expect(l.isFinite)
                    #expect(abs(b - (-l / (2 * M_LN2))) <= 1e-9 * max(1, abs(b)))
                }
            }
        }

        @Test func likelihood() async throws {
            try await withAPI { s in
                let r = try await s.post("/v1/models/gmm-vp/likelihood", #"{"x":[[-2,0],[2,1]],"seed":1}"#)
                #expect(r.status == 200, "\(r)")
                let o = try #require(r.object)
                let ll = try #require(o.numbers("log_likelihood"))
                let bpd = try #require(o.numbers("bits_per_dim"))
                #expect(ll.count == 2 && ll.allSatisfy(\.isFinite))
                for (l, b) in zip(ll, bpd) { #expect(abs(b - (-l / (2 * M_LN2))) <= 1e-9 * max(1, abs(b))) }
                #expect(o.points("latents")?.count == 2)
                #expect(o.numbers("nfe")?.count == 2)
                // A point at a mode is likelier than one far from every component.
                let far = try await s.post("/v1/models/gmm-vp/likelihood", #"{"x":[[0,5]],"seed":1}"#)
                let farLL = try #require(far.object?.numbers("log_likelihood")?.first)
                #expect(farLL < ll[0])
            }
        }

        @Test func score() async throws {
            try await withAPI { s in
                let one = try await s.post("/v1/models/gmm-vp/score", #"{"x":[[-2,0],[2,1],[0,0]],"t":0.5}"#)
                #expect(one.status == 200, "\(one)")
                let scores = try #require(one.object?.points("score"))
                #expect(scores.count == 3 && scores.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isFinite) })
                let each = try await s.post("/v1/models/gmm-vp/score", #"{"x":[[-2,0],[2,1],[0,0]],"t":[0.5,0.5,0.5]}"#)
                #expect(each.object?["score"] == one.object?["score"])
                let other = try await s.post("/v1/models/gmm-vp/score", #"{"x":[[-2,0]],"t":0.05}"#)
                #expect(other.object?.points("score")?.first != scores[0])
            }
        }

        /// Encoding then decoding with `ode`, `denoise:false` and the same eps returns the points.
        @Test func encodeDecodeRoundTrip() async throws {
            try await withAPI { s in
                let e = try await s.post("/v1/models/gmm-vp/encode", #"{"x":[[-2,0],[2,1]],"eps":1e-3}"#)
                #expect(e.status == 200, "\(e)")
                let o = try #require(e.object)
                let latents = try #require(o.points("latents"))
                #expect(latents.count == 2)
                #expect(o.numbers("nfe")?.count == 2)
                let text = try #require(o["latents"]).encoded()
                let d = try await s.post("/v1/models/gmm-vp/sample",
                                         #"{"sampler":"ode","denoise":false,"eps":1e-3,"latents":"# + text + "}")
                #expect(d.status == 200, "\(d)")
                let back = try #require(d.object?.points("samples"))
                let original: [[Double]] = [[-2, 0], [2, 1]]
                for (p, q) in zip(back, original) {
                    for (a, b) in zip(p, q) { #expect(abs(a - b) < 2e-3, "decoded \(back) from \(original)") }
                }
            }
        }



        /// `Accept: image/png` on an image model answers a PNG grid (⌈√n⌉ per row, 2× pixels,
        /// 1-pixel gaps); other models answer 406, and more than 1,024 images 400.
        @Test func pngGrid() async throws {
            let sde = SDE(kind: .vp)
            let components: [GaussianMixture.Component] = [.init(weight: 1, mean: Array(repeating: 0.5, count: 16),
                                                                  std: Array(repeating: 0.2, count: 16))]
            let config = ModelConfig(name: "gmm-image", description: "4×4 test images",
                                     data: DataSpec(shape: [1, 4, 4], shift: Array(repeating: 0, count: 16),
                                                    scale: Array(repeating: 255, count: 16), levels: 256),
                                     sde: sde, network: .gmm(components), weights: nil)
            let image = ScoreModel(directory: "(memory)", config: config, network: GaussianMixture(sde: sde, components: components))
            try await withAPI(models: [image, ServerModels.vp]) { s in
                let png = try await s.post("/v1/models/gmm-image/sample", #"{"n":5,"seed":3,"steps":20}"#,
                                           headers: [("Accept", "image/png")])
                #expect(png.status == 200, "\(png)")
                #expect(png.header("content-type") == "image/png")
                #expect(png.header("x-seed") == "3")
                #expect(png.body.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
                func be32(_ at: Int) -> Int { png.body[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
                #expect(png.body.count > 24 && Array(png.body[12..<16]) == Array("IHDR".utf8))
                #expect(be32(16) == 3 * 8 + 2 && be32(20) == 2 * 8 + 1, "3 columns × 2 rows of 8-pixel cells")
                #expect(png.header("vary") == "Accept")
                // A quality of 0 refuses the type: JSON it is, still varying on Accept.
                let refused = try await s.post("/v1/models/gmm-image/sample", #"{"n":2,"seed":3,"steps":20}"#,
                                               headers: [("Accept", "image/png;q=0, application/json")])
                #expect(refused.status == 200 && refused.header("content-type") == "application/json")
                #expect(refused.header("vary") == "Accept")
                let wrong = try await s.post("/v1/models/gmm-vp/sample", #"{"n":2}"#, headers: [("Accept", "image/png")])
                expectError(wrong, 406, code: "not_acceptable", mentions: ["image/png", "[2]"])
                let many = try await s.post("/v1/models/gmm-image/sample", #"{"n":1025,"steps":2}"#,
                                            headers: [("Accept", "image/png")])
                expectError(many, 400, code: "invalid_argument", mentions: ["1024"])
            }
        }

        /// `Accept: application/x-npy` answers a float32 .npy of shape (n, 2) whose values
        /// equal the JSON answer's for the same seed.
        @Test func npyMatchesJSON() async throws {
            try await withAPI { s in
                let body = #"{"n":5,"seed":77,"steps":25,"sampler":"euler_maruyama"}"#
                let json = try await s.post("/v1/models/gmm-vp/sample", body)
                let npy = try await s.post("/v1/models/gmm-vp/sample", body, headers: [("Accept", "application/x-npy")])
                #expect(npy.status == 200, "\(npy)")
                #expect(npy.header("content-type") == "application/x-npy")
                #expect(npy.header("x-seed") == "77")
                let (header, values) = try parseNPY(npy.body)
                #expect(header.contains("'descr': '<f4'"), "\(header)")
                #expect(header.contains("'shape': (5, 2)"), "\(header)")
                #expect(header.contains("'fortran_order': False"), "\(header)")
                let expected = try #require(json.object?.points("samples")).flatMap { $0 }.map { Float($0) }
                #expect(values == expected)
            }
        }
    }
}

struct NPYError: Error, CustomStringConvertible {
    let description: String
}

/// The header dictionary and float32 little-endian payload of a version 1–3 .npy file.
func parseNPY(_ bytes: [UInt8]) throws -> (header: String, values: [Float]) {
    guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
        throw NPYError(description: "no .npy magic")
    }
    let major = bytes[6]
    let headerLength: Int, start: Int
    if major == 1 {
        headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        start = 10
    } else {
        guard bytes.count >= 12 else { throw NPYError(description: "short") }
        headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        start = 12
    }
    guard bytes.count >= start + headerLength, (start + headerLength) % 16 == 0 || major == 1 else {
        throw NPYError(description: "bad header length")
    }
    let header = String(decoding: bytes[start..<(start + headerLength)], as: UTF8.self)
    let payload = bytes[(start + headerLength)...]
    guard payload.count % 4 == 0 else { throw NPYError(description: "payload of \(payload.count) bytes") }
    var values: [Float] = []
    var i = payload.startIndex
    while i < payload.endIndex {
        let bits = UInt32(payload[i]) | UInt32(payload[i + 1]) << 8 | UInt32(payload[i + 2]) << 16 | UInt32(payload[i + 3]) << 24
        values.append(Float(bitPattern: bits))
        i += 4
    }
    return (header, values)
}
