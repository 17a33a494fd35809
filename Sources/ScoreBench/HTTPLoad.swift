import Foundation

/// Load generation for the HTTP workloads: timed single requests, and `wrk`.
public enum HTTPLoad {
    /// Median milliseconds of `repeats` identical requests on one keep-alive connection
    /// (after two warm-up requests); every answer must be 200.
    public static func medianMilliseconds(port: UInt16, path: String, body: String, repeats: Int) throws -> Double {
        let client = HTTPClient(port: port)
        var times: [Double] = []
        for i in 0..<(repeats + 2) {
            let start = DispatchTime.now().uptimeNanoseconds
            let (status, answer) = try client.request("POST", path, body: body)
            guard status == 200 else { throw BenchError("\(path): \(status) \(String(decoding: answer, as: UTF8.self))") }
            if i >= 2 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
        }
        times.sort()
        return times[times.count / 2]
    }

    /// What one `wrk` run reported.
    public struct WrkResult: Sendable {
        public let requestsPerSecond: Double
        public let requests: Int
        public let p50Milliseconds: Double
        public let p99Milliseconds: Double
        /// Answers other than 2xx/3xx (wrk's count), and socket errors.
        public let failures: Int
    }

    /// Runs `wrk --latency` with a POST of `body` to `path`.
    public static func wrk(port: UInt16, path: String, body: String, seconds: Int, connections: Int,
                           threads: Int) throws -> WrkResult {
        guard let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BenchError("wrk is not installed (apt-get install wrk)")
        }
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("scoreserve-bench-\(getpid()).lua")
        let escaped = body.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        try """
            wrk.method = "POST"
            wrk.body = "\(escaped)"
            wrk.headers["Content-Type"] = "application/json"
            """.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrk)
        process.arguments = ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", "-s", script.path,
                             "http://127.0.0.1:\(port)\(path)"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        return try parse(text)
    }

    /// Parses wrk's report (latencies in us, ms or s).
    static func parse(_ text: String) throws -> WrkResult {
        func duration(_ s: Substring) -> Double? {
            for (unit, scale) in [("us", 1e-3), ("ms", 1.0), ("s", 1e3), ("m", 6e4)] where s.hasSuffix(unit) {
                return Double(s.dropLast(unit.count)).map { $0 * scale }
            }
            return nil
        }
        var rps: Double?, requests: Int?, p50: Double?, p99: Double?, failures = 0
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard let first = words.first else { continue }
            if first == "Requests/sec:", words.count > 1 { rps = Double(words[1]) }
            if words.count > 2, words[1] == "requests", words[2] == "in" { requests = Int(first) }
            if first == "50%", words.count > 1 { p50 = duration(words[1]) }
            if first == "99%", words.count > 1 { p99 = duration(words[1]) }
            if line.contains("Non-2xx or 3xx responses:"), let n = words.last.flatMap({ Int($0) }) { failures += n }
            if line.contains("Socket errors:") {
                failures += words.compactMap { Int($0.trimmingCharacters(in: .punctuationCharacters)) }.reduce(0, +)
            }
        }
        guard let rps, let requests, let p50, let p99 else { throw BenchError("cannot read wrk's report:\n\(text)") }
        return WrkResult(requestsPerSecond: rps, requests: requests, p50Milliseconds: p50, p99Milliseconds: p99,
                         failures: failures)
    }
}
