import Foundation
import Synchronization
import Testing
import ScoreCore
import ScoreHTTP
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

extension ServerIntegrationTests {
    @Suite("Concurrency, disconnects and overload")
    struct Concurrency {
        /// The parts of a sampling answer that do not depend on timing.
        static func essence(_ r: HTTPReply) -> [String: JSONValue]? {
            guard r.status == 200, let o = r.object else { return nil }
            var out: [String: JSONValue] = [:]
            for key in ["model", "n", "seed", "shape", "samples", "nfe"] { out[key] = o[key] }
            return out
        }

        /// 16 clients at once get the same answers as one client alone.
        @Test func concurrentClientsGetSequentialAnswers() async throws {
            let samplers = [#""sampler":"euler_maruyama","steps":60"#, #""sampler":"pc","steps":40"#,
                            #""sampler":"ode","method":"heun","steps":30"#, #""sampler":"dpm_solver","steps":12"#,
                            #""sampler":"reverse_diffusion","steps":50"#]
            let clients = 16, perClient = 3
            func body(_ c: Int, _ k: Int) -> String {
                let n = 1 + (c + k) % 5
                return #"{"n":\#(n),"seed":\#(1000 + c * perClient + k),"# + samplers[(c + 2 * k) % samplers.count] + "}"
            }
            func model(_ c: Int) -> String { c % 4 == 3 ? "gmm-ve" : "gmm-vp" }
            try await withServer { s in
                var alone: [[[String: JSONValue]?]] = []
                for c in 0..<clients {
                    var row: [[String: JSONValue]?] = []
                    for k in 0..<perClient {
                        let r = try await s.post("/v1/models/\(model(c))/sample", body(c, k))
                        #expect(r.status == 200, "\(r)")
                        row.append(Self.essence(r))
                    }
                    alone.append(row)
                }
                let client = s.client
                let together = try await withThrowingTaskGroup(of: (Int, [[String: JSONValue]?]).self) { group in
                    for c in 0..<clients {
                        let bodies = (0..<perClient).map { body(c, $0) }, path = "/v1/models/\(model(c))/sample"
                        group.addTask {
                            try await onThread {
                                (c, try bodies.map { try Self.essence(client.post(path, $0)) })
                            }
                        }
                    }
                    var out = [[[String: JSONValue]?]](repeating: [], count: clients)
                    for try await (c, row) in group { out[c] = row }
                    return out
                }
                for c in 0..<clients {
                    for k in 0..<perClient {
                        #expect(together[c][k] != nil, "client \(c) request \(k) failed")
                        #expect(together[c][k] == alone[c][k], "client \(c) request \(k): concurrent answer differs")
                    }
                }
            }
        }

        /// A client that hangs up mid-job stops the job: the engine's step counter stops
        /// growing within about a second.
        @Test func disconnectCancelsTheJob() async throws {
            try await withServer { s in
                // Eight times the shared long job (n = 256): with the faster engine the shared
                // one (2–4 s) ended before this test's task was scheduled again while other
                // suites held the cooperative threads (seen once in a full run).
                let job = #"{"n":256,"seed":1,"steps":100000,"sampler":"euler_maruyama"}"#
                let connection = try await s.open("POST", "/v1/models/gmm-vp/sample", json: job)
                #expect(await s.waitForSteps(growing: 50), "the job did not start")
                // Still running a moment later.
                let before = s.stepsRun
                #expect(await s.waitForSteps(growing: 50, from: before, seconds: 5))
                #expect(s.server.activeRequests == 1)
                connection.close()
                let idle = await s.waitForEngineIdle(seconds: 1.5)
                #expect(idle != nil, "the engine still ran 1.5 s after the client left")
                // The server forgets the request and counts the cancellation.
                let deadline = Date().addingTimeInterval(5)
                while s.server.activeRequests > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
                #expect(s.server.activeRequests == 0)
                let metrics = try await s.get("/metrics").text
                #expect(metrics.contains(#"scoreserve_rejected_requests_total{reason="cancelled"} 1"#), "\(metrics)")
                // Once: the cancelled job's own 503 answer is not counted again.
                #expect(metrics.contains(#"scoreserve_rejected_requests_total{reason="draining"} 0"#), "\(metrics)")
                // And serves the next request normally.
                #expect(try await s.post("/v1/models/gmm-vp/sample", #"{"n":1,"seed":1,"steps":5}"#).status == 200)
            }
        }

        /// A disconnect also cancels a job that is still queued behind another.
        @Test func disconnectCancelsAQueuedJob() async throws {
            try await withServer { s in
                let first = try await s.open("POST", "/v1/models/gmm-vp/sample", json: Errors.longJob)
                #expect(await s.waitForSteps(growing: 10))
                let second = try await s.open("POST", "/v1/models/gmm-vp/sample", json: Errors.longJob)
                let deadline = Date().addingTimeInterval(5)
                while s.server.activeRequests < 2 && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
                second.close()
                first.close()
                #expect(await s.waitForEngineIdle(seconds: 2) != nil, "the engine kept running after both clients left")
            }
        }

        /// Many requests at once over a small admission budget: some are refused with 429,
        /// none fails with 5xx, and the server serves normally afterwards.
        @Test func overloadShedsWithoutFailing() async throws {
            var limits = APILimits()
            limits.maxWork = 40_000
            try await withServer(limits: limits) { s in
                let client = s.client
                let body = #"{"n":2,"seed":9,"steps":10000,"sampler":"euler_maruyama"}"#
                let replies = try await withThrowingTaskGroup(of: HTTPReply.self) { group in
                    for _ in 0..<24 {
                        group.addTask { try await onThread { try client.post("/v1/models/gmm-vp/sample", body) } }
                    }
                    var out: [HTTPReply] = []
                    for try await r in group { out.append(r) }
                    return out
                }
                let statuses = replies.map(\.status)
                #expect(statuses.allSatisfy { [200, 429].contains($0) }, "\(statuses)")
                #expect(statuses.contains(429), "no request was shed: \(statuses)")
                #expect(statuses.contains(200), "\(statuses)")
                for r in replies where r.status == 429 {
                    expectError(r, 429, code: "overloaded")
                    #expect(r.header("retry-after") != nil)
                }
                // Every answered sample is the same (same seed).
                let answers = Set(replies.filter { $0.status == 200 }.compactMap { $0.object?["samples"].map { "\($0)" } })
                #expect(answers.count == 1)
                #expect(try await s.get("/healthz").status == 200)
                #expect(await s.waitForEngineIdle() != nil)
                let after = try await s.post("/v1/models/gmm-vp/sample", #"{"n":1,"seed":1,"steps":10}"#)
                #expect(after.status == 200, "\(after)")
                let metrics = try await s.get("/metrics").text
                // Each 429 counted once, as overloaded.
                let shed = try MetricsTests.parse(metrics).value("scoreserve_rejected_requests_total", ["reason": "overloaded"])
                #expect(shed == Double(statuses.filter { $0 == 429 }.count), "\(statuses)")
                #expect(metrics.contains("scoreserve_work_in_flight 0"), "admitted work not released")
            }
        }

        /// Liveness must not depend on compute: `/healthz` answers promptly while a job
        /// occupies every engine thread (the engine's default width is every core).
        ///
        /// Handlers run on libmicrohttpd's threads and the engine's workers on Dispatch:
        /// Dispatch's Linux pool has one thread per core for CPU-bound work, so anything
        /// that waited for it would wait for the computation.
        ///
        /// The engine here is 4 × cores wide, more workers than Dispatch's pool has threads,
        /// so the test does not depend on spare pool threads that earlier work left behind
        /// (with the default width of one per core the starvation shows once the pool has
        /// none, as in a busy server: /healthz waited 4.3 s for a 4 s job in `serve`).
        @Test func healthzAnswersWhileEveryCoreComputes() async throws {
            let cores = 4 * ProcessInfo.processInfo.activeProcessorCount
            try await withServer(engineThreads: cores) { s in
                // All on one thread of its own: while the bug holds, the Swift concurrency
                // pool (Dispatch's on Linux) is starved too, so async polling would stall.
                let (started, seconds, status) = try await onThread { () throws -> (Bool, Double, Int?) in
                    let long = try s.client.open("POST", "/v1/models/gmm-vp/sample", headers: [("Content-Type", "application/json")],
                                                 body: Array(#"{"n":\#(32 * cores),"seed":1,"steps":100000,"sampler":"euler_maruyama"}"#.utf8))
                    defer { long.close() }
                    let deadline = Date().addingTimeInterval(10)
                    while s.stepsRun < 100 && Date() < deadline { usleep(2000) }
                    guard s.stepsRun >= 100 else { return (false, 0, nil) }
                    let quick = HTTPTestClient(port: s.port, timeout: 2)
                    let t0 = Date()
                    let reply = try? quick.get("/healthz")
                    return (true, Date().timeIntervalSince(t0), reply?.status)
                }
                #expect(started, "the job did not start")
                // Handlers run on libmicrohttpd's threads, never behind the engine's workers.
                #expect(status == 200 && seconds < 1, "/healthz took \(seconds) s (\(status.map { "\($0)" } ?? "no answer"))")
                #expect(await s.waitForEngineIdle(seconds: 3) != nil)
            }
        }
    }
}
