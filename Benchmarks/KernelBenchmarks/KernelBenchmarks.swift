// Kernel benchmarks with ordo-one/benchmark (package-benchmark). Outside the normal
// build: `make bench-kernels` (SCORESERVE_BENCHMARKS=1 swift package benchmark).
// The end-to-end figures are `scoreserve bench`; the stored-threshold regression
// check is `make bench-check`.
import Benchmark
import Foundation
import ScoreCore
import ScoreJSON
import ScoreSampling

let models = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Models").path

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                           maxDuration: .seconds(2), maxIterations: 10_000)
    for name in ["moons-vp", "digits-vp"] {
        let model = try! ScoreModel.load(directory: models + "/" + name)
        let net = model.network, d = net.dimension, rows = 256
        var rng = SplitMix64(seed: 3)
        let x = (0..<(rows * d)).map { _ in Float(rng.normal()) }
        let t = (0..<rows).map { Double($0 % 16 + 1) / 17 }
        let shared = [Double](repeating: 0.5, count: rows)
        let ws = ScoreWorkspace(network: net, rows: rows, tangents: d)
        var out = [Float](repeating: 0, count: rows * d)

        Benchmark("\(name) forward, 256 rows, distinct t") { benchmark in
            for _ in benchmark.scaledIterations {
                out.withUnsafeMutableBufferPointer { ws.score(x, times: t, rows: rows, into: $0.baseAddress!) }
            }
            blackHole(out)
        }
        Benchmark("\(name) forward, 256 rows, one t (fixed-step samplers)") { benchmark in
            for _ in benchmark.scaledIterations {
                out.withUnsafeMutableBufferPointer { ws.score(x, times: shared, rows: rows, into: $0.baseAddress!) }
            }
            blackHole(out)
        }
        let jrows = 32
        let v = (0..<(jrows * d * d)).map { i in (i / d) % d == i % d ? Float(1) : 0 }
        var jv = [Float](repeating: 0, count: jrows * d * d)
        Benchmark("\(name) JVP, 32 rows × \(d) tangents (exact trace)") { benchmark in
            for _ in benchmark.scaledIterations {
                out.withUnsafeMutableBufferPointer { o in
                    jv.withUnsafeMutableBufferPointer { j in
                        ws.jvp(x, times: t, rows: jrows, tangents: d, v: v, score: o.baseAddress!, jv: j.baseAddress!)
                    }
                }
            }
            blackHole(jv)
        }
        let engine = SamplingEngine(threads: 1)
        var step = SampleOptions()
        step.n = 32; step.seed = 1; step.sampler = .eulerMaruyama; step.steps = 10
        Benchmark("\(name) euler_maruyama, 32 samples × 10 steps") { benchmark in
            for _ in benchmark.scaledIterations { blackHole(try engine.sampleBlocking(model, step)) }
        }
    }
    var rng = SplitMix64(seed: 5)
    let document = JSONValue.array((0..<100_000).map { _ in .number(Double(Float(rng.normal()))) })
    let text = try! document.encoded()
    Benchmark("JSON encode, 100,000 floats") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try document.encoded()) }
    }
    Benchmark("JSON decode, 100,000 floats") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try JSONValue.parse(text)) }
    }
}
