import ArgumentParser
import Foundation
import ScoreBench
import ScoreCore
import ScoreJSON

extension Bench {
    /// W0 through HTTP: a `scoreserve serve` process answering one request at a time.
    func httpServing(threads: Int) throws -> JSONObject {
        let model = try ScoreModel.load(directory: models + "/moons-vp")
        guard let cost = NetworkCost(model.network) else { throw ValidationError("moons-vp is not an mlp") }
        let roofline = Roofline.gflops(shapes: cost.shapes, rows: 256, threads: 1)
        let server = try ServerProcess(executable: Self.executable, models: models, threads: threads)
        defer { server.stop() }
        print("\nW0 through HTTP (scoreserve serve on loopback, one keep-alive connection, median of 41 calls)")
        var out = JSONObject()
        for n in [1, 16] {
            let body = #"{"n":\#(n),"seed":1,"sampler":"euler_maruyama","steps":1000}"#
            let ms = try HTTPLoad.medianMilliseconds(port: server.port, path: "/v1/models/moons-vp/sample",
                                                     body: body, repeats: 41)
            let flops = Double(n) * 1000 * cost.perRow + 1000 * cost.perTime
            let overhead = (ms / 1e3 - flops / (roofline * 1e9)) / 1000 * 1e6
            print("  n = \(n): \(Self.f(ms, 2)) ms per request; beyond the network's FLOPs at the 1-thread roofline "
                  + "(\(Self.f(roofline, 1)) GFLOP/s): \(Self.f(overhead, 2)) µs per step")
            out["n\(n)_ms"] = .number(ms)
            out["n\(n)_overhead_us_per_step"] = .number(overhead)
        }
        return out
    }

    /// W6: tiny requests under wrk (64 connections), then a mixed load of large and small
    /// requests; the server's resident memory over the run.
    func httpLoad(threads: Int) throws -> JSONObject {
        let server = try ServerProcess(executable: Self.executable, models: models, threads: threads)
        defer { server.stop() }
        let path = "/v1/models/moons-vp/sample"
        let tiny = #"{"n":1,"seed":1,"sampler":"euler_maruyama","steps":10}"#
        print("\nW6: HTTP load (scoreserve serve with \(threads) threads; wrk on the same machine)")
        var out = JSONObject()
        let warm = HTTPClient(port: server.port)
        for _ in 0..<1000 { _ = try warm.request("POST", path, body: tiny) }
        let rssWarm = ResidentMemory.current(pid: server.pid)
        let small = try HTTPLoad.wrk(port: server.port, path: path, body: tiny, seconds: wrkSeconds,
                                     connections: 64, threads: 1)
        let rssAfter = ResidentMemory.current(pid: server.pid)
        print("  tiny (n = 1, 10 steps), 64 connections: \(Self.f(small.requestsPerSecond, 0)) requests/s, "
              + "p50 \(Self.f(small.p50Milliseconds, 2)) ms, p99 \(Self.f(small.p99Milliseconds, 2)) ms, "
              + "\(small.requests) requests, \(small.failures) failures")
        print("  server resident memory: \(rssWarm / 1024) KiB after 1,000 requests, \(rssAfter / 1024) KiB after "
              + "\(small.requests + 1000) (\(Self.f(Double(rssAfter - rssWarm) / 1024, 0)) KiB change)")
        out["tiny_rps"] = .number(small.requestsPerSecond)
        out["tiny_p50_ms"] = .number(small.p50Milliseconds)
        out["tiny_p99_ms"] = .number(small.p99Milliseconds)
        out["tiny_requests"] = .integer(Int64(small.requests))
        out["tiny_failures"] = .integer(Int64(small.failures))
        out["rss_after_warmup"] = .integer(Int64(rssWarm))
        out["rss_after_load"] = .integer(Int64(rssAfter))

        // Mixed: one client keeps a large request in flight while wrk sends small ones.
        let large = #"{"n":2000,"seed":2,"sampler":"euler_maruyama","steps":1000}"#
        let stop = Box(false)
        let largeTimes = Box<[Double]>([])
        let port = server.port
        let background = Thread {
            let client = HTTPClient(port: port)
            while !stop.value {
                let t0 = DispatchTime.now().uptimeNanoseconds
                guard let r = try? client.request("POST", path, body: large), r.status == 200 else { continue }
                largeTimes.value.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
        }
        background.start()
        usleep(200_000)  // let the first large request start computing
        let mixed = try HTTPLoad.wrk(port: server.port, path: path, body: tiny, seconds: wrkSeconds,
                                     connections: 8, threads: 1)
        stop.value = true
        while !background.isFinished { usleep(50_000) }
        let done = largeTimes.value
        print("  mixed: small requests \(Self.f(mixed.requestsPerSecond, 0))/s, p50 \(Self.f(mixed.p50Milliseconds, 2)) ms, "
              + "p99 \(Self.f(mixed.p99Milliseconds, 2)) ms (8 connections) while large requests (n = 2000, 1000 steps) "
              + "ran: \(done.count) finished, \(Self.f(done.reduce(0, +) / Double(max(1, done.count)), 2)) s each")
        out["mixed_small_rps"] = .number(mixed.requestsPerSecond)
        out["mixed_small_p99_ms"] = .number(mixed.p99Milliseconds)
        out["mixed_large_finished"] = .integer(Int64(done.count))
        return out
    }
}

/// A value handed between threads under a lock.
final class Box<T>: @unchecked Sendable {
    // @unchecked Sendable: `stored` is only touched under `lock`.
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
