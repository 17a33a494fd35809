import Dispatch
import Synchronization
import Testing
import ScoreHTTP

/// The metrics registry and its Prometheus text exposition (format 0.0.4), checked with
/// a small parser of the format (promtool is not available here).
@Suite("Prometheus metrics")
struct MetricsTests {
    // MARK: A tiny exposition parser

    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var text: String
        var why: String
        var description: String { "line \(line): \(why): \(text)" }
    }

    /// A parsed exposition: the families' types and help, and every sample in order.
    struct Parsed {
        var types: [String: String] = [:]
        var help: [String: String] = [:]
        var samples: [Sample] = []

        /// The value of the one sample named `name` with exactly `labels`.
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            let hits = samples.filter { $0.name == name && $0.labels == labels }
            return hits.count == 1 ? hits[0].value : nil
        }

        /// Every sample named `name` whose labels include `labels`, in order.
        func series(_ name: String, where labels: [String: String] = [:]) -> [Sample] {
            samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
        }
    }

    /// Parses the text format strictly: every line is a `# HELP`, a `# TYPE` or a sample
    /// `name{labels} value` / `name value`; each family has HELP then TYPE before its
    /// samples, no family is typed twice, and samples belong to the latest typed family
    /// (a histogram's as `_bucket`, `_sum` or `_count`).
    static func parse(_ text: String) throws -> Parsed {
        var parsed = Parsed()
        var current: String? = nil
        #expect(text.hasSuffix("\n"), "the exposition ends with a newline")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        for (index, sub) in lines.enumerated() {
            let line = String(sub)
            func fail(_ why: String) -> ParseError { ParseError(line: index + 1, text: line, why: why) }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                    .map(String.init)
                guard parts.count >= 3, parts[0] == "#", isMetricName(parts[2]) else {
                    throw fail("bad comment")
                }
                let name = parts[2]
                switch parts[1] {
                case "HELP":
                    guard parts.count == 4, !parts[3].isEmpty else { throw fail("HELP without text") }
                    guard parsed.help[name] == nil else { throw fail("second HELP") }
                    parsed.help[name] = parts[3]
                case "TYPE":
                    guard parts.count == 4,
                          ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3])
                    else { throw fail("bad TYPE") }
                    guard parsed.help[name] != nil else { throw fail("TYPE before HELP") }
                    guard parsed.types[name] == nil else { throw fail("second TYPE") }
                    guard parsed.samples.allSatisfy({ family(of: $0.name, parsed.types) != name }) else {
                        throw fail("TYPE after samples")
                    }
                    parsed.types[name] = parts[3]
                    current = name
                default:
                    throw fail("unknown comment")
                }
                continue
            }
            let sample = try parseSample(line, fail: fail)
            guard let cur = current, family(of: sample.name, parsed.types) == cur else {
                throw fail("sample outside its family's HELP/TYPE block")
            }
            if parsed.types[cur] == "histogram" {
                guard sample.name != cur else { throw fail("bare histogram sample") }
                guard (sample.name == cur + "_bucket") == (sample.labels["le"] != nil) else {
                    throw fail("le only on _bucket")
                }
            }
            guard !parsed.samples.contains(where: { $0.name == sample.name && $0.labels == sample.labels })
            else { throw fail("duplicate series") }
            parsed.samples.append(sample)
        }
        return parsed
    }

    /// The family a sample name belongs to: itself, or the histogram it is part of.
    static func family(of name: String, _ types: [String: String]) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" { return base }
        }
        return name
    }

    static func isMetricName<S: StringProtocol>(_ s: S) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || first == ":" || first.properties.isAlphabetic && first.isASCII
        else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0 == ":" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }

    static func parseSample(_ line: String, fail: (String) -> ParseError) throws -> Sample {
        let chars = Array(line.unicodeScalars)
        var i = 0
        var name = ""
        while i < chars.count, chars[i] != "{", chars[i] != " " { name.unicodeScalars.append(chars[i]); i += 1 }
        guard isMetricName(name) else { throw fail("bad metric name") }
        var labels: [String: String] = [:]
        if i < chars.count, chars[i] == "{" {
            i += 1
            while true {
                guard i < chars.count else { throw fail("unterminated labels") }
                if chars[i] == "}" { i += 1; break }
                var key = ""
                while i < chars.count, chars[i] != "=" { key.unicodeScalars.append(chars[i]); i += 1 }
                guard isMetricName(key), !key.contains(":"), i + 1 < chars.count, chars[i + 1] == "\"" else {
                    throw fail("bad label name")
                }
                i += 2
                var value = ""
                while true {
                    guard i < chars.count else { throw fail("unterminated label value") }
                    let c = chars[i]
                    if c == "\"" { i += 1; break }
                    if c == "\\" {
                        guard i + 1 < chars.count else { throw fail("dangling escape") }
                        switch chars[i + 1] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: throw fail("bad escape")
                        }
                        i += 2
                    } else {
                        value.unicodeScalars.append(c); i += 1
                    }
                }
                guard labels[key] == nil else { throw fail("repeated label") }
                labels[key] = value
                guard i < chars.count else { throw fail("unterminated labels") }
                if chars[i] == "," { i += 1 } else if chars[i] != "}" { throw fail("expected , or }") }
            }
        }
        guard i < chars.count, chars[i] == " " else { throw fail("no space before value") }
        let text = String(String.UnicodeScalarView(chars[(i + 1)...]))
        guard let value = number(text) else { throw fail("bad value") }
        return Sample(name: name, labels: labels, value: value)
    }

    /// A sample value as Prometheus reads it; NaN is refused (the registry never emits it).
    static func number(_ text: String) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        default:
            guard !text.isEmpty, text.unicodeScalars.allSatisfy({ "0123456789.eE+-".unicodeScalars.contains($0) }),
                  let v = Double(text), v.isFinite else { return nil }
            return v
        }
    }

    static let allFamilies: [String: String] = [
        "scoreserve_http_requests_total": "counter",
        "scoreserve_http_request_duration_seconds": "histogram",
        "scoreserve_http_requests_in_flight": "gauge",
        "scoreserve_rejected_requests_total": "counter",
        "scoreserve_queue_wait_seconds": "histogram",
        "scoreserve_work_in_flight": "gauge",
        "scoreserve_network_evaluations_total": "counter",
        "scoreserve_samples_total": "counter",
        "scoreserve_engine_steps_total": "counter",
        "scoreserve_models_loaded": "gauge",
        "scoreserve_ready": "gauge",
    ]

    static let bounds = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
                         "1", "2.5", "5", "10", "30", "60", "+Inf"]

    /// Checks a histogram's series: the documented `le` bounds in order, cumulative
    /// counts, `le="+Inf"` equal to `_count`; returns the buckets by `le`.
    static func checkHistogram(_ p: Parsed, _ name: String, _ labels: [String: String] = [:]) -> [String: Double] {
        let buckets = p.series(name + "_bucket", where: labels)
        #expect(buckets.map { $0.labels["le"] ?? "" } == bounds, "\(name) bounds")
        for (a, b) in zip(buckets, buckets.dropFirst()) {
            #expect(a.value <= b.value, "\(name) buckets are cumulative")
        }
        #expect(buckets.last?.value == p.value(name + "_count", labels), "\(name) +Inf equals _count")
        return Dictionary(uniqueKeysWithValues: buckets.map { ($0.labels["le"]!, $0.value) })
    }

    // MARK: Tests

    @Test("a fresh registry exposes every metric, known routes and reasons at 0")
    func fresh() throws {
        let m = Metrics(routes: ["/v1/models", "/v1/models/{model}/sample"])
        let p = try Self.parse(m.exposition())
        #expect(p.types == Self.allFamilies)
        #expect(Set(p.help.keys) == Set(Self.allFamilies.keys))
        for route in ["/v1/models", "/v1/models/{model}/sample"] {
            let b = Self.checkHistogram(p, "scoreserve_http_request_duration_seconds", ["route": route])
            #expect(b.values.allSatisfy { $0 == 0 })
            #expect(p.value("scoreserve_http_request_duration_seconds_sum", ["route": route]) == 0)
        }
        _ = Self.checkHistogram(p, "scoreserve_queue_wait_seconds")
        for reason in ["overloaded", "draining", "too_large", "invalid", "unauthorized", "deadline", "cancelled"] {
            #expect(p.value("scoreserve_rejected_requests_total", ["reason": reason]) == 0, "\(reason)")
        }
        #expect(p.series("scoreserve_http_requests_total").isEmpty)
        for name in ["scoreserve_http_requests_in_flight", "scoreserve_work_in_flight",
                     "scoreserve_network_evaluations_total", "scoreserve_samples_total",
                     "scoreserve_engine_steps_total", "scoreserve_models_loaded", "scoreserve_ready"] {
            #expect(p.value(name) == 0, "\(name)")
        }
    }

    @Test("counters add up, per series")
    func counters() throws {
        let m = Metrics()
        m.addSamples(3); m.addSamples(4); m.addSamples(0); m.addSamples(-5)
        m.reject(reason: "overloaded"); m.reject(reason: "overloaded"); m.reject(reason: "too_large")
        m.reject(reason: "something_else")
        m.observeRequest(route: "/v1/sample", method: "POST", status: 200, seconds: 0.01)
        m.observeRequest(route: "/v1/sample", method: "POST", status: 200, seconds: 0.02)
        m.observeRequest(route: "/v1/sample", method: "POST", status: 429, seconds: 0.0001)
        m.observeRequest(route: "/healthz", method: "GET", status: 200, seconds: 0.0001)
        let p = try Self.parse(m.exposition())
        #expect(p.value("scoreserve_samples_total") == 7)
        #expect(p.value("scoreserve_rejected_requests_total", ["reason": "overloaded"]) == 2)
        #expect(p.value("scoreserve_rejected_requests_total", ["reason": "too_large"]) == 1)
        #expect(p.value("scoreserve_rejected_requests_total", ["reason": "something_else"]) == 1)
        #expect(p.value("scoreserve_rejected_requests_total", ["reason": "draining"]) == 0)
        let req = "scoreserve_http_requests_total"
        #expect(p.value(req, ["route": "/v1/sample", "method": "POST", "code": "200"]) == 2)
        #expect(p.value(req, ["route": "/v1/sample", "method": "POST", "code": "429"]) == 1)
        #expect(p.value(req, ["route": "/healthz", "method": "GET", "code": "200"]) == 1)
        #expect(p.series(req).count == 3)
        #expect(p.value("scoreserve_http_request_duration_seconds_count", ["route": "/v1/sample"]) == 3)
        #expect(p.value("scoreserve_http_request_duration_seconds_count", ["route": "/healthz"]) == 1)
    }

    @Test("histogram buckets are cumulative, le is inclusive, _sum and _count match")
    func histogram() throws {
        let m = Metrics()
        let observations = [0.0005, 0.001, 0.003, 0.1, 0.7, 45, 100]
        for x in observations { m.observeQueueWait(seconds: x) }
        m.observeQueueWait(seconds: .nan)        // dropped
        m.observeQueueWait(seconds: .infinity)   // dropped
        m.observeQueueWait(seconds: -1)          // counts as 0
        let text = m.exposition()
        #expect(!text.contains("NaN") && !text.contains("nan"))
        let p = try Self.parse(text)
        let b = Self.checkHistogram(p, "scoreserve_queue_wait_seconds")
        #expect(b["0.001"] == 3)    // -1 → 0, 0.0005, 0.001 (le is inclusive)
        #expect(b["0.0025"] == 3)
        #expect(b["0.005"] == 4)
        #expect(b["0.1"] == 5)
        #expect(b["0.5"] == 5)
        #expect(b["1"] == 6)
        #expect(b["30"] == 6)
        #expect(b["60"] == 7)
        #expect(b["+Inf"] == 8)
        #expect(p.value("scoreserve_queue_wait_seconds_count") == Double(observations.count + 1))
        let sum = try #require(p.value("scoreserve_queue_wait_seconds_sum"))
        #expect(abs(sum - observations.reduce(0, +)) < 1e-9)
    }

    @Test("request durations form one histogram per route")
    func requestHistogram() throws {
        let m = Metrics(routes: ["/a"])
        m.observeRequest(route: "/a", method: "GET", status: 200, seconds: 0.25)
        m.observeRequest(route: "/a", method: "POST", status: 400, seconds: 0.5)
        m.observeRequest(route: "/b", method: "GET", status: 404, seconds: 2)
        let p = try Self.parse(m.exposition())
        let a = Self.checkHistogram(p, "scoreserve_http_request_duration_seconds", ["route": "/a"])
        #expect(a["0.1"] == 0 && a["0.25"] == 1 && a["0.5"] == 2 && a["+Inf"] == 2)
        #expect(p.value("scoreserve_http_request_duration_seconds_sum", ["route": "/a"]) == 0.75)
        let b = Self.checkHistogram(p, "scoreserve_http_request_duration_seconds", ["route": "/b"])
        #expect(b["1"] == 0 && b["2.5"] == 1 && b["+Inf"] == 1)
        #expect(p.value("scoreserve_http_request_duration_seconds_sum", ["route": "/b"]) == 2)
    }

    @Test("label values escape backslash, double quote and newline")
    func escaping() throws {
        let m = Metrics()
        let nasty = "a\"b\\c\nd"
        m.reject(reason: nasty)
        m.observeRequest(route: nasty, method: "GET", status: 200, seconds: 0.001)
        let text = m.exposition()
        #expect(text.contains(#"scoreserve_rejected_requests_total{reason="a\"b\\c\nd"} 1"#))
        #expect(text.contains(#"{route="a\"b\\c\nd",method="GET",code="200"} 1"#))
        let p = try Self.parse(text)   // no raw newline split a line
        #expect(p.value("scoreserve_rejected_requests_total", ["reason": nasty]) == 1)
        #expect(p.value("scoreserve_http_requests_total", ["route": nasty, "method": "GET", "code": "200"]) == 1)
        _ = Self.checkHistogram(p, "scoreserve_http_request_duration_seconds", ["route": nasty])
    }

    @Test("gauges: in-flight goes up and down; work, models, ready are set")
    func gauges() throws {
        let m = Metrics()
        func value(_ name: String) throws -> Double? { try Self.parse(m.exposition()).value(name) }
        m.requestStarted(); m.requestStarted(); m.requestStarted()
        #expect(try value("scoreserve_http_requests_in_flight") == 3)
        m.requestFinished()
        #expect(try value("scoreserve_http_requests_in_flight") == 2)
        m.requestFinished(); m.requestFinished()
        #expect(try value("scoreserve_http_requests_in_flight") == 0)
        m.setWorkInFlight(1_500_000)
        #expect(try value("scoreserve_work_in_flight") == 1_500_000)
        m.setWorkInFlight(0)
        #expect(try value("scoreserve_work_in_flight") == 0)
        m.setModelsLoaded(3)
        #expect(try value("scoreserve_models_loaded") == 3)
        m.setReady(true)
        #expect(try value("scoreserve_ready") == 1)
        m.setReady(false)
        #expect(try value("scoreserve_ready") == 0)
    }

    final class StepCounter: Sendable {
        let steps = Atomic<Int>(0)
    }

    /// The engine's counters, each set by its own setter.
    static let engineCounters: [(name: String, set: @Sendable (Metrics, @escaping @Sendable () -> Int) -> Void)] = [
        ("scoreserve_engine_steps_total", { $0.setEngineSteps($1) }),
        ("scoreserve_network_evaluations_total", { $0.setNetworkEvaluations($1) }),
    ]

    @Test("engine counters (steps, network evaluations) are read from their providers at exposition time",
          arguments: 0..<2)
    func engineCounters(index: Int) throws {
        let (name, set) = Self.engineCounters[index]
        let m = Metrics()
        let engine = StepCounter()
        #expect(try Self.parse(m.exposition()).value(name) == 0)
        set(m) { engine.steps.load(ordering: .relaxed) }
        #expect(try Self.parse(m.exposition()).value(name) == 0)
        engine.steps.add(123_456, ordering: .relaxed)
        #expect(try Self.parse(m.exposition()).value(name) == 123_456)
        // The other counter is not read from this provider.
        let other = Self.engineCounters[1 - index].name
        #expect(try Self.parse(m.exposition()).value(other) == 0)
        // The provider runs outside the registry's lock: one that takes it does not deadlock.
        set(m) { m.setModelsLoaded(2); return 7 }
        #expect(try Self.parse(m.exposition()).value(name) == 7)
        set(m) { -5 }
        #expect(try Self.parse(m.exposition()).value(name) == 0)
    }

    @Test("concurrent updates from many threads lose nothing")
    func concurrency() throws {
        let m = Metrics(routes: ["/r0", "/r1"])
        let iterations = 1000
        DispatchQueue.concurrentPerform(iterations: iterations) { i in
            m.requestStarted()
            m.observeRequest(route: "/r\(i % 2)", method: "POST", status: i % 5 == 0 ? 429 : 200,
                             seconds: 0.125)
            m.observeQueueWait(seconds: Double(i % 4) / 8)
            m.addSamples(2)
            m.reject(reason: i % 2 == 0 ? "overloaded" : "deadline")
            m.setWorkInFlight(i)
            if i % 50 == 0 { _ = try? Self.parse(m.exposition()) }   // readers alongside writers
            m.requestFinished()
        }
        let p = try Self.parse(m.exposition())
        #expect(p.value("scoreserve_http_requests_in_flight") == 0)
        #expect(p.value("scoreserve_samples_total") == Double(2 * iterations))
        #expect(p.value("scoreserve_rejected_requests_total", ["reason": "overloaded"]) == 500)
        #expect(p.value("scoreserve_rejected_requests_total", ["reason": "deadline"]) == 500)
        let req = "scoreserve_http_requests_total"
        let total = p.series(req).map(\.value).reduce(0, +)
        #expect(total == Double(iterations))
        #expect(p.value(req, ["route": "/r0", "method": "POST", "code": "429"]) == 100)
        #expect(p.value(req, ["route": "/r1", "method": "POST", "code": "429"]) == 100)
        for route in ["/r0", "/r1"] {
            #expect(p.value("scoreserve_http_request_duration_seconds_count", ["route": route]) == 500)
            #expect(p.value("scoreserve_http_request_duration_seconds_sum", ["route": route]) == 62.5)
            _ = Self.checkHistogram(p, "scoreserve_http_request_duration_seconds", ["route": route])
        }
        let q = Self.checkHistogram(p, "scoreserve_queue_wait_seconds")
        #expect(q["+Inf"] == Double(iterations))
        #expect(q["0.001"] == 250 && q["0.25"] == 750 && q["0.5"] == 1000)
        #expect(p.value("scoreserve_queue_wait_seconds_sum") == 187.5)   // 250 × (0 + 1/8 + 2/8 + 3/8)
    }

    @Test("the exposition is deterministic, series sorted by labels")
    func deterministic() throws {
        func build(_ order: [Int]) -> Metrics {
            let m = Metrics(routes: ["/z", "/a"])
            for i in order {
                m.observeRequest(route: ["/z", "/a", "/m"][i % 3], method: i % 2 == 0 ? "GET" : "POST",
                                 status: [200, 404, 500][i % 3], seconds: 0.01)
            }
            return m
        }
        let forward = build(Array(0..<12)).exposition()
        let backward = build(Array((0..<12).reversed())).exposition()
        #expect(forward == backward)
        #expect(forward == build(Array(0..<12)).exposition())
        let p = try Self.parse(forward)
        let keys = p.series("scoreserve_http_requests_total").map { [$0.labels["route"]!, $0.labels["method"]!, $0.labels["code"]!] }
        #expect(keys == keys.sorted { $0.lexicographicallyPrecedes($1) })
        let routes = p.series("scoreserve_http_request_duration_seconds_count").map { $0.labels["route"]! }
        #expect(routes == ["/a", "/m", "/z"])
        let reasons = p.series("scoreserve_rejected_requests_total").map { $0.labels["reason"]! }
        #expect(reasons == reasons.sorted())
    }

    @Test("numbers: integers plain, fractions shortest, no NaN")
    func numbers() throws {
        let m = Metrics()
        m.observeQueueWait(seconds: 0.1)
        m.observeQueueWait(seconds: 0.2)
        m.observeQueueWait(seconds: 1e-7)
        let text = m.exposition()
        #expect(text.contains("scoreserve_queue_wait_seconds_bucket{le=\"1\"} 3\n"))
        #expect(text.contains("scoreserve_queue_wait_seconds_bucket{le=\"0.0025\"} 1\n"))
        #expect(text.contains("scoreserve_queue_wait_seconds_bucket{le=\"+Inf\"} 3\n"))
        #expect(text.contains("scoreserve_queue_wait_seconds_sum \(0.1 + 0.2 + 1e-7)\n"))
        #expect(text.contains("scoreserve_queue_wait_seconds_count 3\n"))
        #expect(!text.contains("NaN") && !text.contains("nan"))
        _ = try Self.parse(text)
    }

    @Test("the parser rejects malformed expositions")
    func parserSelfCheck() {
        let bad = [
            "scoreserve_x 1\n",                                                   // no HELP/TYPE
            "# HELP a h\n# TYPE a gauge\n# HELP a h\n# TYPE a gauge\na 1\n",     // typed twice
            "# HELP a h\n# TYPE a gauge\na{l=\"x} 1\n",                           // unterminated
            "# HELP a h\n# TYPE a gauge\na{l=\"x\\q\"} 1\n",                      // bad escape
            "# HELP a h\n# TYPE a gauge\na NaN\n",                                // NaN
            "# HELP a h\n# TYPE a gauge\n# HELP b h\n# TYPE b gauge\na 1\n",     // outside block
        ]
        for text in bad {
            #expect(throws: ParseError.self, "\(text)") { try Self.parse(text) }
        }
    }
}
