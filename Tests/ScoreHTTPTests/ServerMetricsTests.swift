import Foundation
import Testing
import ScoreHTTP
import ScoreHTTPTransport
import ScoreSampling

extension ServerIntegrationTests {
    /// What the live server's `/metrics` says about the requests it answered: every
    /// answer, the transport's refusals included, passes the API's one recorder, which
    /// counts rejections by the error table.
    @Suite("Metrics of the live server")
    struct LiveMetrics {
        static let sample = "/v1/models/gmm-vp/sample"

        static func scrape(_ s: TestServer) async throws -> MetricsTests.Parsed {
            let reply = try await s.get("/metrics")
            #expect(reply.status == 200)
            return try MetricsTests.parse(reply.text)
        }

        static func rejected(_ p: MetricsTests.Parsed) -> [String: Double] {
            Dictionary(uniqueKeysWithValues: p.series("scoreserve_rejected_requests_total").map { ($0.labels["reason"]!, $0.value) })
        }

        static func requests(_ p: MetricsTests.Parsed, _ route: String, _ method: String, _ code: Int) -> Double {
            p.value("scoreserve_http_requests_total", ["route": route, "method": method, "code": String(code)]) ?? 0
        }

        @Test func transportRefusalsAreCounted() async throws {
            var limits = APILimits()
            limits.maxBodyBytes = 1024
            try await withServer(limits: limits) { s in
                let before = try await Self.scrape(s)
                #expect(Self.rejected(before)["too_large"] == 0)
                // Refused from Content-Length before the body is read, and while a chunked body streams in.
                let declared = try await s.request("POST", Self.sample, headers: [
                    ("Content-Type", "application/json"), ("Content-Length", "5000")])
                expectError(declared, 413, code: "payload_too_large")
                let chunk = Array("10\r\n".utf8) + [UInt8](repeating: 0x20, count: 16) + [13, 10]
                let streamed = try await s.exchange(
                    s.client.requestBytes("POST", Self.sample, headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
                        + Array(repeating: chunk, count: 65).flatMap { $0 } + Array("0\r\n\r\n".utf8), method: "POST")
                expectError(streamed, 413, code: "payload_too_large")
                // A path no route matches is labelled "unmatched".
                let nowhere = try await s.request("POST", "/nowhere", headers: [("Content-Length", "5000")])
                expectError(nowhere, 413, code: "payload_too_large")

                let after = try await Self.scrape(s)
                #expect(Self.rejected(after)["too_large"] == 3)
                #expect(Self.requests(after, "/v1/models/{name}/sample", "POST", 413) == 2)
                #expect(Self.requests(after, "unmatched", "POST", 413) == 1)
                #expect(after.value("scoreserve_http_request_duration_seconds_count", ["route": "unmatched"]) == 1)
                // Only the scrape itself is in flight: each refusal was finished.
                #expect(after.value("scoreserve_http_requests_in_flight") == 1)
            }
        }

        /// The same through `DeferredHandler`, as `serve` wires it: refused bodies are
        /// errors in the API's shape while starting, and counted once the API is in.
        @Test func transportRefusalsThroughTheDeferredHandler() async throws {
            var limits = APILimits()
            limits.maxBodyBytes = 1024
            let deferred = DeferredHandler()
            var configuration = HTTPServerConfiguration()
            configuration.port = 0
            configuration.maxBodyBytes = limits.maxBodyBytes
            let server = HTTPServer(configuration: configuration, handler: deferred)
            try server.start()
            defer { server.stop() }
            let client = HTTPTestClient(port: server.port, timeout: 10)
            let tooLarge = [("Content-Type", "application/json"), ("Content-Length", "5000")]
            let starting = try await onThread { try client.request("POST", Self.sample, headers: tooLarge) }
            expectError(starting, 413, code: "payload_too_large", mentions: ["5000", "1024"])

            let api = ScoreAPI(models: [ServerModels.vp], engine: SamplingEngine(threads: 1),
                               configuration: APIConfiguration(limits: limits), logger: TestServer.quietLogger)
            deferred.install(api)
            api.state.markReady()
            let ready = try await onThread { try client.get("/readyz") }
            #expect(ready.status == 200)
            let refused = try await onThread { try client.request("POST", Self.sample, headers: tooLarge) }
            expectError(refused, 413, code: "payload_too_large")
            let p = try MetricsTests.parse(api.metrics.exposition())
            #expect(Self.rejected(p)["too_large"] == 1)
            #expect(Self.requests(p, "/v1/models/{name}/sample", "POST", 413) == 1)
        }

        @Test func rejectionsAreCountedFromTheErrorTable() async throws {
            try await withServer(apiKey: "k") { s in
                let auth = [("Authorization", "Bearer k")]
                let before = Self.rejected(try await Self.scrape(s))
                #expect(try await s.get("/v1/models").status == 401)
                #expect(try await s.post(Self.sample, #"{"n":0}"#, headers: auth).status == 400)
                #expect(try await s.post(Self.sample, #"{"n":1}"#, headers: auth + [("Content-Type", "text/plain")]).status == 415)
                #expect(try await s.get("/v1/models/nope", headers: auth).status == 404)
                #expect(try await s.request("DELETE", "/healthz").status == 405)
                s.api.state.markDraining()
                #expect(try await s.post(Self.sample, #"{"n":1}"#, headers: auth).status == 503)
                // /readyz's 503 is an answer, not an error: no rejection.
                #expect(try await s.get("/readyz").status == 503)
                let after = Self.rejected(try await Self.scrape(s))
                var moved: [String: Double] = [:]
                for (reason, n) in after where n != before[reason] ?? 0 { moved[reason] = n - (before[reason] ?? 0) }
                #expect(moved == ["unauthorized": 1, "invalid": 1, "draining": 1])
            }
        }

        /// The counter is the engine's, read at each scrape; the answers add nothing.
        @Test func networkEvaluationsAreTheEngines() async throws {
            try await withServer { s in
                #expect(try await s.post(Self.sample, #"{"n":4,"seed":1,"steps":10}"#).status == 200)
                #expect(try await s.post("/v1/models/gmm-vp/score", #"{"x":[[0,0]],"t":0.5}"#).status == 200)
                #expect(await s.waitForEngineIdle() != nil)
                let p = try await Self.scrape(s)
                #expect(p.value("scoreserve_network_evaluations_total") == Double(s.engine.stats.networkEvaluations))
            }
        }

        /// A long job shows in `rate(scoreserve_network_evaluations_total)` while it runs:
        /// two scrapes during the job differ.
        @Test
        func networkEvaluationsGrowWhileAJobRuns() async throws {
            try await withServer { s in
                let long = try await s.open("POST", Self.sample, json: Errors.longJob)
                defer { long.close() }
                #expect(await s.waitForSteps(growing: 10), "the long job did not start")
                let first = try #require(try await Self.scrape(s).value("scoreserve_network_evaluations_total"))
                var grew = false
                let deadline = Date().addingTimeInterval(5)
                while !grew && Date() < deadline {
                    grew = try #require(try await Self.scrape(s).value("scoreserve_network_evaluations_total")) > first
                }
                #expect(grew, "the counter stayed at \(first) while the job ran")
                #expect(s.server.activeRequests >= 1, "the job ended before the second scrape")
                long.close()
                #expect(await s.waitForEngineIdle() != nil)
            }
        }
    }
}
