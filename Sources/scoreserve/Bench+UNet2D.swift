import ArgumentParser
import Dispatch
import Foundation
import ScoreBench
import ScoreCore
import ScoreJSON
import ScoreSampling

extension Bench {
    /// The unet2d part: one diffusers UNet2DModel directory's forward per image at n = 1
    /// and n = 8, and a 20-step `dpm_solver` sample of 4 images, each the median of
    /// `repeats` after a warm-up, with this process's peak RSS. Benchmarks/unet2d_bench.py
    /// runs it beside PyTorch, ONNX Runtime and OpenVINO on the same weights.
    func unet2d(threads: Int) throws -> JSONObject {
        guard let path = unetModel else { throw ValidationError("--only unet2d needs --unet-model DIR") }
        let model = try ScoreModel.load(directory: path)
        let net = model.network, d = net.dimension
        print("\nunet2d: \(path): \(net.parameterCount) parameters, \(Self.f(net.flopsPerRow / 1e9, 2)) GFLOP per image, \(threads) thread(s)")
        var generator = SplitMix64(seed: 1)
        let inputs = (0..<(8 * d)).map { _ in Float(Double(generator.next() >> 11) / Double(1 << 53) * 2 - 1) }
        // Worker i alone touches workspaces[i] (concurrentPerform's iteration index).
        nonisolated(unsafe) let workspaces = (0..<threads).map { _ in ScoreWorkspace(network: net, rows: 8) }

        /// Seconds for a forward of `n` images split over the threads, each worker's share
        /// in one call (as a batch is handed to PyTorch).
        func forward(_ n: Int) -> Double {
            let workers = Swift.min(threads, n), times = [Double](repeating: 0.5, count: n)
            let start = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let first = worker * n / workers, rows = (worker + 1) * n / workers - first
                var out = [Float](repeating: 0, count: rows * d)
                inputs.withUnsafeBufferPointer { x in
                    times.withUnsafeBufferPointer { t in
                        out.withUnsafeMutableBufferPointer { o in
                            workspaces[worker].score(x.baseAddress! + first * d, times: t.baseAddress! + first, rows: rows,
                                                     into: o.baseAddress!)
                        }
                    }
                }
            }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        func median(_ runs: [Double]) -> Double { runs.sorted()[runs.count / 2] }
        func measure(_ label: String, _ body: () throws -> Double) rethrows -> (Double, [Double]) {
            _ = try body()   // warm-up
            let runs = try (0..<repeats).map { _ in try body() }
            print("  \(label): median \(Self.f(median(runs), 4)), runs \(runs.map { Self.f($0, 4) }.joined(separator: ", "))")
            return (median(runs), runs)
        }
        let (n1, n1Runs) = measure("forward n=1, ms per image") { forward(1) * 1e3 }
        let (n8, n8Runs) = measure("forward n=8, ms per image") { forward(8) * 1e3 / 8 }
        var options = SampleOptions()
        options.n = 4; options.seed = 1; options.sampler = "dpm_solver"; options.steps = 20
        let engine = SamplingEngine(threads: threads)
        let (dpm, dpmRuns) = try measure("dpm_solver 20 steps n=4, seconds") {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try engine.sampleBlocking(model, options)
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        let peak = Double(ResidentMemory.peak()) / 1_048_576
        print("  peak RSS \(Self.f(peak, 0)) MiB")
        var o = JSONObject()
        o["parameters"] = .integer(Int64(net.parameterCount))
        o["gflop_per_image"] = .number(net.flopsPerRow / 1e9)
        o["threads"] = .integer(Int64(threads))
        o["forward_n1_ms_per_image"] = .number(n1)
        o["forward_n1_ms_per_image_runs"] = .array(n1Runs.map { .number($0) })
        o["forward_n8_ms_per_image"] = .number(n8)
        o["forward_n8_ms_per_image_runs"] = .array(n8Runs.map { .number($0) })
        o["dpm_solver_20_n4_seconds"] = .number(dpm)
        o["dpm_solver_20_n4_seconds_runs"] = .array(dpmRuns.map { .number($0) })
        o["peak_rss_mib"] = .number(peak)
        return o
    }
}
