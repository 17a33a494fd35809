import Foundation
import Synchronization
import Testing
import ScoreCore
import ScoreHTTP
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

/// Generates malformed and random requests from a seed.
struct RequestFuzzer {
    enum Kind: String {
        /// A well-framed HTTP request: the API must answer it.
        case app
        /// Bytes that may not be a complete or valid HTTP request: libmicrohttpd may
        /// answer on its own, close, or wait for more.
        case raw
    }

    struct Case {
        var kind: Kind
        var method: String
        var bytes: [UInt8]
        var summary: String
    }

    var rng: SplitMix64
    let port: UInt16

    init(seed: UInt64, port: UInt16) {
        rng = SplitMix64(seed: seed)
        self.port = port
    }

    static let models = ["gmm-vp", "gmm-ve", "gmm-subvp", "gmm-huge", "nope", ""]
    static let endpoints = ["sample", "likelihood", "score", "encode"]
    static let sampleFields = ["n", "seed", "offset", "sampler", "steps", "predictor", "corrector", "snr",
                               "corrector_steps", "method", "rtol", "atol", "order", "denoise", "eps",
                               "log_likelihood", "estimator", "noise", "probes", "latents", "timeout_ms"]
    static let likelihoodFields = ["x", "estimator", "noise", "probes", "rtol", "atol", "eps", "seed", "dequantize", "timeout_ms"]
    static let scoreFields = ["x", "t", "timeout_ms"]
    static let encodeFields = ["x", "rtol", "atol", "eps", "timeout_ms"]

    // MARK: JSON text

    mutating func number() -> String {
        rng.pick(["0", "-0", "1", "-1", "2", "3", "7", "0.5", "1e-3", "1e-5", "2.5", "-3.75", "1e308", "-1e308", "1e309",
                  "1e-400", "4.9e-324", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
                  "18446744073709551616", "100000", "100001", "1000000000", "1e6", "00012", "1.", ".5", "+1",
                  "0x10", "NaN", "Infinity", "-Infinity", "1e", String(rng.below(2000)), String(Double(rng.below(100000)) / 997)])
    }

    mutating func string() -> String {
        rng.pick([#""""#, #""pc""#, #""ode""#, #""euler_maruyama""#, #""ancestral""#, #""dpm_solver""#, #""rk45""#,
                  #""langevin""#, #""exact""#, #""gaussian""#, #""\u0000""#, #""\ud800""#, #""é日本""#, #""\n\t\"""#,
                  "\"" + String(repeating: "a", count: rng.below(3000)) + "\"", #""1""#, #""true""#, #""null""#])
    }

    mutating func value(depth: Int = 0) -> String {
        switch rng.below(depth > 2 ? 5 : 7) {
        case 0: return "null"
        case 1: return rng.chance(0.5) ? "true" : "false"
        case 2, 3: return number()
        case 4: return string()
        case 5: return "[" + (0..<rng.below(4)).map { _ in value(depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            return "{" + (0..<rng.below(3)).map { _ in "\(string()):\(value(depth: depth + 1))" }.joined(separator: ",") + "}"
        }
    }

    mutating func point(_ d: Int = 2) -> String {
        "[" + (0..<d).map { _ in rng.chance(0.9) ? String(Double(rng.below(2000)) / 200 - 5) : number() }
            .joined(separator: ",") + "]"
    }

    mutating func points() -> String {
        switch rng.below(8) {
        case 0: return "[]"
        case 1: return "[" + point(rng.pick([0, 1, 3, 4])) + "]"
        case 2: return "[[[0,0]]]"
        case 3: return "[" + (0..<rng.below(2000)).map { _ in "[0.1,0.2]" }.joined(separator: ",") + "]"
        default: return "[" + (0..<(1 + rng.below(4))).map { _ in point() }.joined(separator: ",") + "]"
        }
    }

    /// The values a choice field of the sample table allows, as JSON strings.
    func choices(_ field: String) -> [String] {
        guard let row = RequestFields.table(.sample).first(where: { $0.name == field }),
              case .choice(let values) = row.kind else { return ["\"?\""] }
        return values.map { "\"\($0)\"" }
    }

    /// A plausible value for a field (often valid, sometimes not).
    mutating func plausible(_ field: String) -> String {
        switch field {
        case "n": return String(1 + rng.below(4))
        case "seed": return String(rng.below(1000))
        case "offset": return String(rng.below(10))
        case "sampler": return rng.pick(Samplers.names.map { "\"\($0)\"" })
        case "steps": return String(1 + rng.below(40))
        case "predictor": return rng.pick(choices("predictor"))
        case "corrector": return rng.pick(choices("corrector"))
        case "snr": return rng.pick(["0.16", "0.01", "1", "10"])
        case "corrector_steps": return String(rng.below(3))
        case "method": return rng.pick(choices("method"))
        case "rtol", "atol": return rng.pick(["1e-3", "1e-2", "1e-5", "1e-12", "0.5"])
        case "order": return String(1 + rng.below(3))
        case "denoise", "log_likelihood": return rng.chance(0.5) ? "true" : "false"
        case "eps": return rng.pick(["1e-3", "1e-5", "0.5", "0.999"])
        case "estimator": return rng.pick(["\"exact\"", "\"hutchinson\""])
        case "noise": return rng.pick(["\"rademacher\"", "\"gaussian\""])
        case "probes": return String(1 + rng.below(3))
        case "latents", "x": return points()
        case "t": return rng.chance(0.5) ? rng.pick(["0.5", "1", "0.01", "1e-9"]) : "[" + rng.pick(["0.5", "0.1,0.2"]) + "]"
        case "dequantize": return String(rng.below(3))
        case "timeout_ms": return String(1 + rng.below(1500))
        default: return value()
        }
    }

    /// A JSON body for an endpoint: plausible fields, then mutations.
    mutating func body(for endpoint: String) -> String {
        let fields: [String]
        switch endpoint {
        case "sample": fields = Self.sampleFields
        case "likelihood": fields = Self.likelihoodFields
        case "score": fields = Self.scoreFields
        default: fields = Self.encodeFields
        }
        var pairs: [(String, String)] = []
        for f in fields where rng.chance(endpoint == "sample" ? 0.25 : 0.6) { pairs.append((f, plausible(f))) }
        if endpoint != "sample" && !pairs.contains(where: { $0.0 == "x" }) && rng.chance(0.8) { pairs.append(("x", points())) }
        if endpoint == "score" && !pairs.contains(where: { $0.0 == "t" }) && rng.chance(0.8) { pairs.append(("t", "0.5")) }
        for _ in 0..<rng.below(4) {
            switch rng.below(6) {
            case 0 where !pairs.isEmpty: pairs[rng.below(pairs.count)].1 = value()        // wrong type or range
            case 1: pairs.append((rng.pick(fields + ["N", "samplr", "", "n ", "\u{0}", "é"]), value()))  // unknown or duplicate field
            case 2 where !pairs.isEmpty: pairs.remove(at: rng.below(pairs.count))
            case 3: pairs.append((rng.pick(fields), number()))                          // extreme numbers
            case 4:
                let depth = rng.pick([5, 50, 500, 3000, 20000])                           // deep nesting
                pairs.append((rng.pick(fields), String(repeating: "[", count: depth) + String(repeating: "]", count: depth)))
            default: if !pairs.isEmpty { pairs[rng.below(pairs.count)].1 = points() }
            }
        }
        let escaped = { (s: String) in s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\u{0}", with: "\\u0000") }
        return "{" + pairs.map { "\"\(escaped($0.0))\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Byte-level damage to a body.
    mutating func damage(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        switch rng.below(7) {
        case 0: return Array(b.prefix(rng.below(b.count + 1)))                            // truncated
        case 1: b.insert(0, at: rng.below(b.count + 1)); return b                         // NUL byte
        case 2: b.insert(contentsOf: rng.pick([[0xC3, 0x28], [0xFF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80]]),
                         at: rng.below(b.count + 1)); return b                            // invalid UTF-8
        case 3: if !b.isEmpty { b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next()) }; return b
        case 4: return rng.bytes(rng.below(200))                                          // random bytes
        case 5: return b + b                                                              // two documents
        default: return Array(" \t\n".utf8) + b + Array("\n".utf8)
        }
    }

    // MARK: Requests

    func request(_ method: String, _ path: String, headers: [(String, String)], body: [UInt8]?) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (n, v) in headers { head += "\(n): \(v)\r\n" }
        if let body, !headers.contains(where: { $0.0.lowercased() == "content-length" || $0.0.lowercased() == "transfer-encoding" }) {
            head += "Content-Length: \(body.count)\r\n"
        }
        return Array((head + "\r\n").utf8) + (body ?? [])
    }

    mutating func token(_ alphabet: String, _ count: Int) -> String {
        let chars = Array(alphabet)
        return String((0..<count).map { _ in chars[rng.below(chars.count)] })
    }

    mutating func next() -> Case {
        let roll = rng.below(100)
        if roll < 45 {
            // A JSON body, maybe damaged, to an API route.
            let endpoint = rng.pick(Self.endpoints)
            let model = rng.chance(0.85) ? "gmm-vp" : rng.pick(Self.models)
            var body = Array(body(for: endpoint).utf8)
            if rng.chance(0.3) { body = damage(body) }
            var headers: [(String, String)] = []
            if rng.chance(0.9) { headers.append(("Content-Type", rng.pick(["application/json", "application/json; charset=utf-8", "application/problem+json"]))) }
            if rng.chance(0.05) { headers.append(("Accept", "application/x-npy")) }
            let summary = "POST \(endpoint) " + String(decoding: body.prefix(160), as: UTF8.self)
            return Case(kind: .app, method: "POST", bytes: request("POST", "/v1/models/\(model)/\(endpoint)", headers: headers, body: body),
                        summary: summary)
        } else if roll < 60 {
            // Random methods and paths.
            let method = rng.pick(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "BREW", "get", "M-SEARCH", "XXXXXXXXXXXXXXXXXXXX"])
            let segments = ["v1", "models", "gmm-vp", "sample", "likelihood", "score", "encode", "healthz", "readyz", "metrics",
                            "openapi.json", "..", ".", "%2e%2e", "%00", "%zz", "%", "", "%C3%A9", "{name}", "a;b", "x?y=1", "#frag",
                            String(repeating: "a", count: 300)]
            let path = "/" + (0..<rng.below(5)).map { _ in rng.pick(segments) }.joined(separator: "/")
                + (rng.chance(0.2) ? "?" + rng.pick(["a=b", "n=1000000", "&&", "%ff"]) : "")
            let body: [UInt8]? = rng.chance(0.4) ? Array(body(for: rng.pick(Self.endpoints)).utf8) : nil
            let headers: [(String, String)] = body != nil && rng.chance(0.7) ? [("Content-Type", "application/json")] : []
            return Case(kind: .app, method: method, bytes: request(method, path, headers: headers, body: body), summary: "\(method) \(path)")
        } else if roll < 70 {
            // Bogus headers on an otherwise valid request.
            var headers: [(String, String)] = []
            for _ in 0..<(1 + rng.below(6)) {
                switch rng.below(8) {
                // An empty media type (`Content-Type:` or `;`) is left out: it crashes the process
                // (see `Errors.emptyMediaTypeDoesNotCrash`), which would end this test run.
                case 0: headers.append(("Content-Type", rng.pick(["text/plain", "application/xml", "a;;;", "application/json;", "APPLICATION/JSON", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"])))
                case 1: headers.append(("Accept", rng.pick(["application/x-npy", "*/*", "", "text/html", "application/x-npy, application/json"])))
                case 2: headers.append(("Authorization", rng.pick(["Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "Bearer " + token("abcdef0123", 40)])))
                case 3: headers.append(("X-Request-Id", rng.pick(["", "x", String(repeating: "r", count: 129), "a b", "é", token("abc-_./", 20)])))
                case 4: headers.append((token("abcdefghijklmnopqrstuvwxyz-", 1 + rng.below(30)), token("abc xyz;=,\"'0123", rng.below(60))))
                case 5: headers.append(("Expect", rng.pick(["100-continue", "nonsense"])))
                case 6: headers.append(("Connection", rng.pick(["keep-alive", "close", "upgrade", "foo"])))
                default: headers.append(("Content-Encoding", rng.pick(["gzip", "identity", "br"])))
                }
            }
            let endpoint = rng.pick(Self.endpoints)
            let body = Array(body(for: endpoint).utf8)
            let method = rng.chance(0.8) ? "POST" : "GET"
            let path = method == "POST" ? "/v1/models/gmm-vp/\(endpoint)" : rng.pick(["/healthz", "/v1/models", "/metrics", "/v1/models/gmm-vp"])
            return Case(kind: .app, method: method, bytes: request(method, path, headers: headers, body: method == "POST" ? body : nil),
                        summary: "\(method) \(path) with \(headers)")
        } else if roll < 80 {
            // Framing abuse: bad Content-Length, broken chunked encoding.
            let body = Array(body(for: "sample").utf8)
            let path = "/v1/models/gmm-vp/sample"
            let bytes: [UInt8]
            let what: String
            switch rng.below(7) {
            case 0: what = "negative Content-Length"; bytes = request("POST", path, headers: [("Content-Length", "-\(1 + rng.below(100))")], body: body)
            case 1: what = "non-numeric Content-Length"; bytes = request("POST", path, headers: [("Content-Length", rng.pick(["abc", "1e3", "0x10", " ", "12 34", "99999999999999999999999"]))], body: body)
            case 2: what = "Content-Length short of the body"; bytes = request("POST", path, headers: [("Content-Length", String(rng.below(max(1, body.count))))], body: body)
            case 3: what = "Content-Length past the body"; bytes = request("POST", path, headers: [("Content-Length", String(body.count + 1 + rng.below(100)))], body: body)
            case 4: what = "two Content-Lengths"; bytes = request("POST", path, headers: [("Content-Length", String(body.count)), ("Content-Length", "3")], body: body)
            case 5:
                what = "bad chunks"
                var b = Array(rng.pick(["zz", "-1", "ffffffffffffffffff", "3;ext", "1"]).utf8) + [13, 10] + Array(body.prefix(3)) + [13, 10]
                if rng.chance(0.5) { b += Array("0\r\n\r\n".utf8) }
                bytes = request("POST", path, headers: [("Transfer-Encoding", rng.pick(["chunked", "gzip, chunked", "chunked, chunked", "identity"]))], body: b)
            default: what = "body too large"; bytes = request("POST", path, headers: [("Content-Type", "application/json")], body: Array(repeating: 0x20, count: 70_000) + body)
            }
            return Case(kind: .raw, method: "POST", bytes: bytes, summary: what)
        } else if roll < 90 {
            // Garbage request lines and random bytes.
            let bytes: [UInt8]
            switch rng.below(6) {
            case 0: bytes = rng.bytes(1 + rng.below(300))
            case 1: bytes = Array("GET /healthz\r\n\r\n".utf8)
            case 2: bytes = Array("GET /healthz HTTP/\(rng.pick(["2.0", "0.9", "1.2", "x", "11"]))\r\nHost: x\r\n\r\n".utf8)
            case 3: bytes = Array("GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\nConnection: close\r\n\r\n".utf8)
            case 4: bytes = Array("GET /healthz HTTP/1.1\r\n".utf8) + rng.bytes(rng.below(100)) + Array("\r\n\r\n".utf8)
            default: bytes = Array("GET /\(token("abc", 3)) HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 70_000))\r\nConnection: close\r\n\r\n".utf8)
            }
            return Case(kind: .raw, method: "GET", bytes: bytes, summary: "garbage \(String(decoding: bytes.prefix(40), as: UTF8.self).debugDescription)")
        } else {
            // Large and deeply nested bodies.
            let body: String
            switch rng.below(4) {
            case 0: body = #"{"x":"# + String(repeating: "[", count: 4000) + String(repeating: "]", count: 4000) + "}"
            case 1: body = #"{"n":1,"latents":["# + (0..<3000).map { _ in "[1.5,-0.5]" }.joined(separator: ",") + "]}"
            case 2: body = "{" + (0..<2000).map { "\"f\($0)\":\($0)" }.joined(separator: ",") + "}"
            default: body = #"{"x":[[0,0]],"t":0.5,"pad":""# + String(repeating: "z", count: 80_000) + "\"}"
            }
            let endpoint = rng.pick(Self.endpoints)
            return Case(kind: .app, method: "POST",
                        bytes: request("POST", "/v1/models/gmm-vp/\(endpoint)", headers: [("Content-Type", "application/json")], body: Array(body.utf8)),
                        summary: "large body to \(endpoint) (\(body.utf8.count) bytes)")
        }
    }
}

/// What the fuzzer saw.
struct FuzzTally: Sendable {
    var done = 0
    var statuses: [Int: Int] = [:]
    var unanswered = 0
    /// libmicrohttpd's own answers (no X-Request-Id): HTML bodies, not the JSON shape.
    var parserAnswers = 0
    /// Of those, answers with bytes after the declared body (status line and headers sent twice).
    var garbledParserAnswers = 0
    var failures: [String] = []

    mutating func fail(_ message: String) { if failures.count < 40 { failures.append(message) } }
}

extension ServerIntegrationTests {
    @Suite("Fuzzing")
    struct Fuzz {
        static let cases = 2000
        static let workers = 4
        static let budgetSeconds = 50.0

        /// Checks one exchange's answer; returns the failures.
        static func check(_ c: RequestFuzzer.Case, _ bytes: [UInt8], into tally: inout FuzzTally) {
            if bytes.isEmpty {
                tally.unanswered += 1
                if c.kind == .app { tally.fail("no answer to \(c.summary)") }
                return
            }
            let reply: HTTPReply
            do { reply = try HTTPTestClient.parse(bytes, method: c.method) } catch {
                tally.fail("incomplete answer (\(error)) to \(c.summary)")
                return
            }
            tally.statuses[reply.status, default: 0] += 1
            if reply.status == 500 { tally.fail("500 for \(c.summary): \(reply)") }
            let fromAPI = reply.header("x-request-id") != nil
            guard fromAPI else {
                // libmicrohttpd refused the request itself (see parserErrorsAreNotJSON).
                tally.parserAnswers += 1
                if !reply.trailing.isEmpty { tally.garbledParserAnswers += 1 }
                if reply.status < 400 { tally.fail("\(reply.status) without a request id for \(c.summary)") }
                return
            }
            if !reply.trailing.isEmpty { tally.fail("\(reply.trailing.count) bytes after the answer to \(c.summary)") }
            if reply.status >= 500 && ![503, 504].contains(reply.status) { tally.fail("\(reply.status) for \(c.summary): \(reply)") }
            if reply.status >= 400 {
                if c.method != "HEAD" && reply.error == nil { tally.fail("error without the JSON shape for \(c.summary): \(reply)") }
            } else if reply.status == 200 && c.method != "HEAD" {
                if reply.header("content-type") == "application/x-npy" {
                    if (try? parseNPY(reply.body)) == nil { tally.fail("bad .npy for \(c.summary)") }
                } else if reply.header("content-type")?.hasPrefix("application/json") == true {
                    if reply.json == nil { tally.fail("200 with a body that is not JSON for \(c.summary)") }
                } else if !reply.header("content-type", default: "").hasPrefix("text/plain") {
                    tally.fail("200 with content type \(reply.header("content-type") ?? "none") for \(c.summary)")
                }
            }
        }

        /// Thousands of malformed and random requests from a fixed seed: every answer is a
        /// complete HTTP response, every API error has the JSON shape, nothing is a 500,
        /// and the server is healthy afterwards.
        @Test func malformedAndRandomRequests() async throws {
            var limits = APILimits()
            limits.maxBodyBytes = 64 << 10
            limits.maxWork = 200_000
            limits.defaultTimeoutMs = 1500
            limits.maxTimeoutMs = 1500
            limits.maxN = 1000
            limits.maxSteps = 5000
            limits.maxPoints = 1000
            try await withServer(limits: limits, clientTimeout: 10) { s in
                let port = s.port
                let started = Date()
                let tallies = try await withThrowingTaskGroup(of: FuzzTally.self) { group in
                    for w in 0..<Self.workers {
                        group.addTask {
                            try await onThread {
                                var tally = FuzzTally()
                                let client = HTTPTestClient(port: port, timeout: 10)
                                for i in stride(from: w, to: Self.cases, by: Self.workers) {
                                    if Date().timeIntervalSince(started) > Self.budgetSeconds { break }
                                    var fuzzer = RequestFuzzer(seed: 0xF022_0000 &+ UInt64(i), port: port)
                                    let c = fuzzer.next()
                                    // A raw case may be an incomplete request the server rightly waits on.
                                    let wait = c.kind == .raw ? 0.5 : 10
                                    let bytes: [UInt8]
                                    do { bytes = try client.raw(c.bytes, receiveTimeout: wait) } catch HTTPClientError.timeout {
                                        if c.kind == .app { tally.fail("timed out: #\(i) \(c.summary)") } else { tally.unanswered += 1 }
                                        tally.done += 1
                                        continue
                                    } catch HTTPClientError.system(_, let e) where e == ECONNRESET && c.kind == .raw {
                                        tally.unanswered += 1
                                        tally.done += 1
                                        continue
                                    }
                                    var one = FuzzTally()
                                    Self.check(c, bytes, into: &one)
                                    for f in one.failures { tally.fail("#\(i): \(f)") }
                                    tally.unanswered += one.unanswered
                                    tally.parserAnswers += one.parserAnswers
                                    tally.garbledParserAnswers += one.garbledParserAnswers
                                    for (k, v) in one.statuses { tally.statuses[k, default: 0] += v }
                                    tally.done += 1
                                }
                                return tally
                            }
                        }
                    }
                    var all: [FuzzTally] = []
                    for try await t in group { all.append(t) }
                    return all
                }
                var total = FuzzTally()
                for t in tallies {
                    total.done += t.done
                    total.unanswered += t.unanswered
                    total.parserAnswers += t.parserAnswers
                    total.garbledParserAnswers += t.garbledParserAnswers
                    for (k, v) in t.statuses { total.statuses[k, default: 0] += v }
                    for f in t.failures { total.fail(f) }
                }
                let seconds = Date().timeIntervalSince(started)
                print("fuzz: \(total.done) requests in \(String(format: "%.1f", seconds)) s; statuses \(total.statuses.sorted { $0.key < $1.key }); "
                      + "unanswered raw \(total.unanswered); libmicrohttpd's own answers \(total.parserAnswers) (garbled \(total.garbledParserAnswers))")
                #expect(total.failures.isEmpty, "\(total.failures.count) failures:\n\(total.failures.joined(separator: "\n"))")
                #expect(total.done >= Self.cases / 2, "only \(total.done) of \(Self.cases) cases ran in \(Self.budgetSeconds) s")
                #expect(seconds < Self.budgetSeconds + 15)
                // Healthy afterwards.
                #expect(try await s.get("/healthz").status == 200)
                #expect(await s.waitForEngineIdle(seconds: 5) != nil)
                let normal = try await s.post("/v1/models/gmm-vp/sample", #"{"n":2,"seed":1,"steps":10}"#)
                #expect(normal.status == 200, "\(normal)")
                #expect(try await s.get("/metrics").text.contains("scoreserve_work_in_flight 0"))
            }
        }

        /// The contract says every error is JSON, but requests that libmicrohttpd's parser
        /// refuses (bad Content-Length, broken chunked framing, a header line without a
        /// colon, an HTTP/0.9 request line, an unsupported version, oversized headers) are
        /// answered by libmicrohttpd with its own HTML bodies; for Content-Length errors
        /// libmicrohttpd 0.9.75 even sends the status line and headers twice.
        @Test func parserErrorsAreNotJSON() async throws {
            try await withServer { s in
                let path = "/v1/models/gmm-vp/sample"
                let body = Array(#"{"n":1}"#.utf8)
                let requests: [(String, [UInt8])] = [
                    ("negative Content-Length", s.client.requestBytes("POST", path, headers: [("Content-Length", "-5")], body: body)),
                    ("non-numeric Content-Length", s.client.requestBytes("POST", path, headers: [("Content-Length", "abc")], body: body)),
                    ("bad chunk size", s.client.requestBytes("POST", path, headers: [("Transfer-Encoding", "chunked")],
                                                            body: Array("zz\r\nabc\r\n0\r\n\r\n".utf8))),
                    ("header without colon", Array("GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon\r\nConnection: close\r\n\r\n".utf8)),
                    ("HTTP/0.9 request line", Array("GET /healthz\r\n\r\n".utf8)),
                    ("HTTP/2.0 request line", Array("GET /healthz HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)),
                    ("oversized header", Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 70_000))\r\nConnection: close\r\n\r\n".utf8)),
                ]
                var replies: [(String, HTTPReply)] = []
                for (what, bytes) in requests {
                    let reply = try await s.exchange(bytes, method: "POST")
                    // Refused, never served, never a 500, and the server lives on.
                    #expect((400...505).contains(reply.status) && reply.status != 500, "\(what): \(reply)")
                    replies.append((what, reply))
                }
                #expect(try await s.get("/healthz").status == 200)
                withKnownIssue("libmicrohttpd answers its own parse errors with HTML, not {\"error\":{…}}") {
                    for (what, reply) in replies {
                        #expect(reply.error != nil, "\(what): \(reply)")
                        #expect(reply.trailing.isEmpty, "\(what): \(reply.trailing.count) bytes after the answer (head sent twice)")
                    }
                }
            }
        }
    }
}

private extension HTTPReply {
    func header(_ name: String, default value: String) -> String { header(name) ?? value }
}
