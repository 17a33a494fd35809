import Foundation
import Testing
import ScoreCore
import ScoreHTTP
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

/// The real HTTP server in-process (libmicrohttpd on an ephemeral port, a raw-socket
/// client): every route, every error status, concurrency, disconnects, overload and a
/// fuzzer. Serialized: several tests watch the engine's step counter and time work on
/// a machine with few cores.
@Suite("In-process HTTP server", .serialized)
struct ServerIntegrationTests {}

extension ServerIntegrationTests {
    @Suite("Transport: connections and request ids")
    struct Transport {
        @Test func headHasNoBody() async throws {
            try await withServer { s in
                let get = try await s.get("/healthz")
                #expect(get.status == 200 && get.trailing.isEmpty && !get.body.isEmpty)
                let head = try await s.request("HEAD", "/healthz")
                #expect(head.status == 200)
                #expect(head.body.isEmpty)
            }
        }

        /// Several requests on one kept-alive connection, sent at once, are answered in order.
        @Test func keepAlivePipelining() async throws {
            try await withServer { s in
                let body = #"{"n":1,"seed":4,"steps":5}"#
                let c = s.client
                func req(_ method: String, _ path: String, _ headers: [(String, String)], _ body: [UInt8]?) -> [UInt8] {
                    // requestBytes adds Connection: close; keep-alive ones are written by hand.
                    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    for (n, v) in headers { head += "\(n): \(v)\r\n" }
                    if let body { head += "Content-Length: \(body.count)\r\n" }
                    return Array((head + "\r\n").utf8) + (body ?? [])
                }
                let bytes = req("POST", "/v1/models/gmm-vp/sample", [("Content-Type", "application/json")], Array(body.utf8))
                    + req("GET", "/healthz", [], nil)
                    + req("POST", "/v1/models/nope/sample", [("Content-Type", "application/json")], Array(body.utf8))
                    + c.requestBytes("POST", "/v1/models/gmm-vp/sample", headers: [("Content-Type", "application/json")], body: Array(body.utf8))
                var rest = try await onThread { try c.raw(bytes) }
                var statuses: [Int] = [], samples: [JSONValue?] = []
                for _ in 0..<4 {
                    let r = try HTTPTestClient.parse(rest)
                    statuses.append(r.status)
                    samples.append(r.object?["samples"])
                    rest = r.trailing
                }
                #expect(statuses == [200, 200, 404, 200])
                #expect(rest.isEmpty)
                #expect(samples[0] != nil && samples[0] == samples[3])
            }
        }

        @Test func requestIDEchoedOrGenerated() async throws {
            try await withServer { s in
                let given = try await s.get("/healthz", headers: [("X-Request-Id", "trace-abc-123")])
                #expect(given.header("x-request-id") == "trace-abc-123")
                let a = try await s.get("/healthz"), b = try await s.get("/healthz")
                let idA = try #require(a.header("x-request-id")), idB = try #require(b.header("x-request-id"))
                #expect(!idA.isEmpty && idA != idB)
                // Unusable ids (spaces, too long) are replaced, not echoed.
                let spaced = try await s.get("/healthz", headers: [("X-Request-Id", "two words")])
                #expect(spaced.header("x-request-id") != "two words" && spaced.header("x-request-id")?.isEmpty == false)
                let long = String(repeating: "x", count: 300)
                #expect(try await s.get("/healthz", headers: [("X-Request-Id", long)]).header("x-request-id") != long)
                // Errors carry it too.
                let error = try await s.post("/v1/models/gmm-vp/sample", "{", headers: [("X-Request-Id", "bad-1")])
                #expect(error.status == 400 && error.header("x-request-id") == "bad-1")
            }
        }
    }
}
