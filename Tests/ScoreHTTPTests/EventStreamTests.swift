import Foundation
import Testing
import ScoreCore
import ScoreJSON

/// Progress streaming over a real socket: `Accept: text/event-stream` on sample,
/// likelihood and encode answers with Server-Sent Events.
@Suite("Event streams (text/event-stream)", .serialized)
struct EventStreamTests {
    /// The events of a stream body: (name, data JSON).
    static func events(_ body: [UInt8]) -> [(String, JSONValue?)] {
        String(decoding: body, as: UTF8.self).components(separatedBy: "\n\n").compactMap { block in
            let lines = block.split(separator: "\n")
            guard let name = lines.first(where: { $0.hasPrefix("event: ") })?.dropFirst(7),
                  let data = lines.first(where: { $0.hasPrefix("data: ") })?.dropFirst(6) else { return nil }
            return (String(name), try? JSONValue.parse(String(data)))
        }
    }

    /// The answer without its timing, which differs from run to run.
    static func untimed(_ value: JSONValue?) -> JSONValue? {
        guard case .object(var o)? = value else { return value }
        o["elapsed_ms"] = nil
        return .object(o)
    }

    static let accept = [("Content-Type", "application/json"), ("Accept", "text/event-stream")]
    /// About a second of work on the analytic model, in a debug build.
    static let slow = #"{"n":600,"seed":9,"steps":2000,"sampler":"euler_maruyama"}"#

    @Test("progress events, spaced 250 ms to 2 s, then one result that is the plain answer")
    func stream() async throws {
        try await withServer { s in
            let reply = try await onThread { try s.client.post("/v1/models/gmm-vp/sample", Self.slow, headers: Self.accept) }
            #expect(reply.status == 200 && reply.header("content-type") == "text/event-stream")
            #expect(reply.header("transfer-encoding")?.contains("chunked") == true)
            let events = Self.events(reply.body)
            let progress = events.dropLast()
            #expect(events.last?.0 == "result" && progress.allSatisfy { $0.0 == "progress" }, "\(events.map(\.0))")
            #expect(progress.count >= 1, "a job of about a second reports its progress")
            var previous: Double?
            for (_, data) in progress {
                guard case .object(let o)? = data, let f = o["fraction"]?.doubleValue, let elapsed = o["elapsed_s"]?.doubleValue else {
                    Issue.record("bad progress event \(String(describing: data))"); continue
                }
                #expect(f >= 0 && f < 1 && o.int("steps_total") == 2000)
                if let previous { #expect(elapsed - previous >= 0.2 && elapsed - previous <= 2.1, "\(previous) → \(elapsed)") }
                previous = elapsed
            }
            let plain = try await s.post("/v1/models/gmm-vp/sample", Self.slow)
            #expect(Self.untimed(events.last?.1) == Self.untimed(plain.json), "the result event is the plain answer")
        }
    }

    @Test("likelihood and encode stream too; a deadline ends the stream with an error event; a bad request is a plain 400")
    func errors() async throws {
        try await withServer { s in
            for (operation, body) in [("likelihood", #"{"x":[[-2,0],[2,1]],"seed":4}"#), ("encode", #"{"x":[[-2,0]]}"#)] {
                let reply = try await onThread { try s.client.post("/v1/models/gmm-vp/\(operation)", body, headers: Self.accept) }
                let plain = try await s.post("/v1/models/gmm-vp/\(operation)", body)
                #expect(Self.untimed(Self.events(reply.body).last?.1) == Self.untimed(plain.json), "\(operation)")
            }
            let late = try await onThread {
                try s.client.post("/v1/models/gmm-vp/sample", #"{"n":4000,"steps":2000,"sampler":"euler_maruyama","timeout_ms":100}"#,
                                  headers: Self.accept)
            }
            let last = Self.events(late.body).last
            #expect(late.status == 200 && last?.0 == "error")
            guard case .object(let o)? = last?.1, case .object(let error)? = o["error"] else { Issue.record("no error JSON"); return }
            #expect(error.string("code") == "deadline_exceeded")
            // The metrics count a stream as what it amounted to, when it ends: the failed one as its 504.
            let metrics = try await s.get("/metrics").text
            #expect(metrics.contains(#"scoreserve_http_requests_total{route="/v1/models/{name}/sample",method="POST",code="504"} 1"#), "\(metrics)")
            let bad = try await onThread { try s.client.post("/v1/models/gmm-vp/sample", #"{"n":0}"#, headers: Self.accept) }
            #expect(bad.status == 400 && bad.header("content-type") == "application/json")
        }
    }

    @Test("a client that goes away mid-stream cancels the work")
    func disconnect() async throws {
        try await withServer { s in
            let connection = try await onThread {
                try s.client.open("POST", "/v1/models/gmm-vp/sample", headers: Self.accept,
                                  body: Array(#"{"n":4000,"steps":20000,"sampler":"euler_maruyama"}"#.utf8))
            }
            // Count from the hang-up, read and hung up on one thread: under load from other
            // suites the first progress event (a Dispatch timer) and a resumed task can both
            // wait seconds for a worker while the job's chunks run, which says nothing about
            // cancellation.
            let start = try await onThread {
                _ = try connection.read(until: "event: progress")
                defer { connection.close() }
                return s.stepsRun
            }
            let idle = await s.waitForEngineIdle(seconds: 5)
            #expect(idle != nil, "the engine still runs after the client left")
            // Far fewer steps than the whole job: 4000 rows in at least 125 chunks (32 rows
            // at most) × 20000 steps = 2.5M chunk steps; the bound is under a third of that
            // (the disconnect is seen within the first progress interval, and the faster
            // the engine, the more steps fit in it: 211k once, against a bound of 200k).
            #expect(s.stepsRun - start < 20_000 * 40, "\(s.stepsRun - start) chunk steps ran")
        }
    }
}
