import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import ScoreCore
import ScoreHTTP
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

extension ServerIntegrationTests {
    @Suite("Error statuses: transport")
    struct Errors {
        /// A sampling job that runs for many seconds in a debug build (one chunk of 32
        /// samples × 100,000 steps = 3.2M work units); tests stop it early.
        static let longJob = #"{"n":32,"seed":1,"steps":100000,"sampler":"euler_maruyama"}"#
        static let longJobWork = 3_200_000

        /// A POST whose Content-Type has an empty media type (`Content-Type: ;`, or an
        /// empty value) must be refused, not crash the server.
        ///
        /// A regression test for a crash (an empty media type once trapped on an
        /// out-of-range index): run in a child process (an exit test) so a crash
        /// cannot end the test run.
        @Test func emptyMediaTypeDoesNotCrash() async {
            await #expect(processExitsWith: .success) {
                let s = try TestServer()
                for value in [";", "", " ; charset=utf-8"] {
                    let r = try s.client.post("/v1/models/gmm-vp/sample", #"{"n":1,"seed":1,"steps":5}"#,
                                              headers: [("Content-Type", value)])
                    guard r.status == 415 || r.status == 200 else { exit(3) }
                }
                s.server.stop()
            }
        }

        @Test func payloadTooLarge() async throws {
            var limits = APILimits()
            limits.maxBodyBytes = 1024
            try await withServer(limits: limits) { s in
                let path = "/v1/models/gmm-vp/sample"
                // Content-Length over the limit: the answer comes before any body byte is sent.
                let early = try await onThread { [c = s.client] in
                    let fd = try c.connect()
                    defer { close(fd) }
                    try HTTPTestClient.sendAll(fd, c.requestBytes("POST", path, headers: [
                        ("Content-Type", "application/json"), ("Content-Length", "5000")]))
                    return try HTTPTestClient.parse(try c.receiveAll(fd, limit: 10), method: "POST")
                }
                expectError(early, 413, code: "payload_too_large", mentions: ["5000", "1024"])

                // At the limit is fine, one byte over is not.
                let base = #"{"n":1,"seed":1,"steps":5}"#
                let exact = base + String(repeating: " ", count: 1024 - base.utf8.count)
                #expect(try await s.post(path, exact).status == 200)
                expectError(try await s.post(path, exact + " "), 413, code: "payload_too_large")

                // Chunked bodies: under the limit they work, past it they get 413.
                func chunked(_ chunks: [[UInt8]]) -> [UInt8] {
                    var out = s.client.requestBytes("POST", path, headers: [
                        ("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
                    for c in chunks { out += Array((String(c.count, radix: 16) + "\r\n").utf8) + c + [13, 10] }
                    return out + Array("0\r\n\r\n".utf8)
                }
                let small = try await s.exchange(chunked([Array(#"{"n":1,"#.utf8), Array(#""seed":1,"steps":5}"#.utf8)]), method: "POST")
                #expect(small.status == 200, "\(small)")
                let filler = [UInt8](repeating: 0x20, count: 256)
                let big = try await s.exchange(chunked([Array("{".utf8)] + Array(repeating: filler, count: 8) + [Array("}".utf8)]),
                                               method: "POST")
                expectError(big, 413, code: "payload_too_large", mentions: ["1024"])
                #expect(try await s.get("/healthz").status == 200)
            }
        }

        /// The OpenAPI document's error examples are the messages the server sends, word
        /// for word (404: `no model named 'moons'`), with the table's status and code.
        @Test func documentedExamplesAreRealMessages() async throws {
            var limits = APILimits()
            limits.maxBodyBytes = 1024
            try await withServer(limits: limits, apiKey: "k") { s in
                let document = try #require(try await s.get("/openapi.json").json)
                let auth = [("Authorization", "Bearer k")]
                let sample = "/v1/models/moons/sample"
                var cases: [(row: ErrorStatus, reply: HTTPReply)] = [
                    (.notFound, try await s.get("/v1/models/moons", headers: auth)),
                    (.methodNotAllowed, try await s.get(sample)),
                    (.unauthorized, try await s.get("/v1/models")),
                    (.invalidArgument, try await s.post("/v1/models/gmm-vp/sample", #"{"n":0}"#, headers: auth)),
                    (.unsupportedMediaType, try await s.post(sample, "{}", headers: auth + [("Content-Type", "text/plain")])),
                    (.payloadTooLarge, try await s.request("POST", sample, headers: [("Content-Length", "2048")])),
                ]
                s.api.state.markDraining()
                cases.append((.unavailable, try await s.post(sample, "{}", headers: auth)))
                for (row, reply) in cases {
                    guard case .object(let example)? = OpenAPIDocumentTests.at(
                        document, "components", "responses", row.component, "content", "application/json", "example", "error") else {
                        Issue.record("no example for \(row.code)"); continue
                    }
                    expectError(reply, row.status, code: row.code)
                    #expect(reply.error?.message == example.string("message"), "\(row.code)")
                    #expect(reply.error?.code == example.string("code"), "\(row.code)")
                }
            }
        }

        /// With the admission budget taken by one job, another gets 429 with Retry-After;
        /// a request larger than the whole budget is a 400 even then.
        @Test func overloadedAndTooBig() async throws {
            // Ten times the shared long job: it must outlast the requests below even on a
            // loaded machine (the shared one could finish first under a full parallel run).
            var limits = APILimits()
            limits.maxWork = 10 * Self.longJobWork
            try await withServer(limits: limits) { s in
                let long = try await s.open("POST", "/v1/models/gmm-vp/sample",
                                            json: #"{"n":320,"seed":1,"steps":100000,"sampler":"euler_maruyama"}"#)
                defer { long.close() }
                #expect(await s.waitForSteps(growing: 10), "the long job did not start")
                let busy = try await s.post("/v1/models/gmm-vp/sample", #"{"n":1,"seed":1,"steps":10}"#)
                expectError(busy, 429, code: "overloaded")
                let retry = busy.header("retry-after").flatMap { Int($0) }
                #expect(retry.map { $0 >= 1 } == true, "Retry-After: \(busy)")
                let tooBig = try await s.post("/v1/models/gmm-vp/sample", #"{"n":321,"seed":1,"steps":100000,"sampler":"euler_maruyama"}"#)
                expectError(tooBig, 400, code: "invalid_argument", mentions: ["\(10 * Self.longJobWork)"])
                // Invalid requests are 400 while busy too: validation comes before admission.
                let invalidSample = try await s.post("/v1/models/gmm-vp/sample", #"{"n":1,"steps":10,"eps":2}"#)
                expectError(invalidSample, 400, code: "invalid_argument", mentions: ["eps"])
                let invalidLikelihood = try await s.post("/v1/models/gmm-vp/likelihood", #"{"x":[[0,0]],"rtol":0}"#)
                let invalidEncode = try await s.post("/v1/models/gmm-vp/encode", #"{"x":[[0,0]],"eps":2}"#)
                // Validated before admission: a bad request is a 400 even when busy.
                #expect(invalidLikelihood.status == 400, "\(invalidLikelihood)")
                #expect(invalidEncode.status == 400, "\(invalidEncode)")
                #expect([400, 429].contains(invalidLikelihood.status) && [400, 429].contains(invalidEncode.status))
                #expect(try await s.get("/healthz").status == 200)
                // Hanging up frees the budget.
                long.close()
                #expect(await s.waitForEngineIdle() != nil, "the engine kept running after the client left")
                var admitted = false
                for _ in 0..<50 where !admitted {
                    let r = try await s.post("/v1/models/gmm-vp/sample", #"{"n":1,"seed":1,"steps":10}"#)
                    admitted = r.status == 200
                    if !admitted { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(admitted, "the budget was not released")
            }
        }

    }
}
