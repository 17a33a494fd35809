import Foundation
import ScoreCore
import ScoreSampling
import ScoreTraining

/// One benchmark workload of the performance issue: a model and an engine job.
public struct Workload: Sendable {
    public enum Job: Sendable {
        case sample(SampleOptions)
        case likelihood(LikelihoodOptions)
    }

    /// "W1", "W0-n16", …
    public let id: String
    public let summary: String
    /// The model's directory name under the models root.
    public let model: String
    public let job: Job
    /// Calls to time (the median is reported): many for the tiny W0 requests.
    public let repeats: Int

    /// The workloads W0–W5 with `n` multiplied by `scale` (at least 1; W0 keeps its n).
    public static func catalogue(models root: String, scale: Double = 1) throws -> [Workload] {
        func n(_ full: Int) -> Int { max(1, Int((Double(full) * scale).rounded())) }
        func em(_ count: Int) -> SampleOptions {
            var o = SampleOptions()
            o.n = count; o.seed = 1; o.sampler = "euler_maruyama"; o.steps = 1000
            return o
        }
        var rk45 = SampleOptions()
        rk45.n = n(10_000); rk45.seed = 1; rk45.sampler = "ode"; rk45["method"] = "rk45"; rk45["rtol"] = 1e-5; rk45["atol"] = 1e-5
        var exact = LikelihoodOptions()
        exact.x = Dataset.toy(.moons, count: n(10_000), seed: 7).points
        exact["estimator"] = "exact"; exact["seed"] = 1
        var pc = SampleOptions()
        pc.n = n(1_000); pc.seed = 1; pc.sampler = "pc"; pc.steps = 1000
        var hutchinson = LikelihoodOptions()
        let digits = try PointsFile.read(path: root + "/data/digits.csv", dimension: 64)
        let count = min(n(1_000), digits.count / 64)
        hutchinson.x = Array(digits[0..<(count * 64)])
        hutchinson["estimator"] = "hutchinson"; hutchinson["seed"] = 1; hutchinson["dequantize"] = 1
        return [
            Workload(id: "W0-n1", summary: "euler_maruyama 1000 steps, n = 1 (serving)", model: "moons-vp",
                     job: .sample(em(1)), repeats: 41),
            Workload(id: "W0-n16", summary: "euler_maruyama 1000 steps, n = 16 (serving)", model: "moons-vp",
                     job: .sample(em(16)), repeats: 21),
            Workload(id: "W1", summary: "euler_maruyama 1000 steps, n = \(n(10_000))", model: "moons-vp",
                     job: .sample(em(n(10_000))), repeats: 1),
            Workload(id: "W2", summary: "ode rk45 rtol = atol = 1e-5, n = \(n(10_000))", model: "moons-vp",
                     job: .sample(rk45), repeats: 1),
            Workload(id: "W3", summary: "likelihood, exact trace, \(n(10_000)) moons points", model: "moons-vp",
                     job: .likelihood(exact), repeats: 1),
            Workload(id: "W4", summary: "pc 1000 steps on digits-vp, n = \(n(1_000))", model: "digits-vp",
                     job: .sample(pc), repeats: 1),
            Workload(id: "W5", summary: "likelihood, Hutchinson, \(count) digits (dequantized)", model: "digits-vp",
                     job: .likelihood(hutchinson), repeats: 1),
        ]
    }
}

/// What one run of a workload measured.
public struct WorkloadMeasurement: Sendable {
    public let id: String
    public let threads: Int
    /// Median seconds per call.
    public let seconds: Double
    /// Samples or points per call.
    public let items: Int
    /// Network evaluations per call, summed over rows.
    public let nfe: Int
    /// GEMM FLOPs per call the network needs (`NetworkCost`).
    public let flops: Double
    /// `sgemm` on the network's shapes at 256 rows, on as many threads, in this run.
    public let rooflineGFLOPs: Double
    /// The same at 4 rows, the size of the engine's GEMM calls.
    public let rooflineSmallGFLOPs: Double
    /// Resident set before the workload and at its peak.
    public let baseRSS: Int
    public let peakRSS: Int

    public var gflops: Double { flops / seconds / 1e9 }
    public var ratio: Double { gflops / rooflineGFLOPs }
    /// Seconds the network's FLOPs take at the roofline rate; the rest is overhead.
    public var rooflineSeconds: Double { flops / (rooflineGFLOPs * 1e9) }
}

extension Workload {
    /// Runs the workload `repeats` times on an engine of `threads` workers and measures it.
    public func measure(models root: String, threads: Int) throws -> WorkloadMeasurement {
        let model = try ScoreModel.load(directory: root + "/" + self.model)
        guard let cost = NetworkCost(model.network) else {
            throw BenchError("\(self.model): only mlp networks are benchmarked")
        }
        // Best of three short runs: a roofline is what the machine can do.
        let roofline = (0..<3).map { _ in Roofline.gflops(shapes: cost.shapes, rows: 256, threads: threads, seconds: 0.2) }.max()!
        let small = (0..<3).map { _ in Roofline.gflops(shapes: cost.shapes, rows: BLAS.rowGroup, threads: threads, seconds: 0.2) }.max()!
        let engine = SamplingEngine(threads: threads)
        let base = ResidentMemory.current()
        var times: [Double] = []
        var nfe = 0, flops = 0.0, items = 0
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let counts: [Int]
            switch job {
            case .sample(let o):
                let plan = try SamplePlan(model, o)
                counts = try engine.runBlocking(plan).nfe
                items = plan.n
                let sharedTime = plan.rowsShareTimes
                let rows = Double(counts.reduce(0, +))
                flops = rows * cost.perRow + (sharedTime ? Double(counts.max() ?? 0) : rows) * cost.perTime
            case .likelihood(let o):
                let plan = try LikelihoodPlan(model, o)
                counts = try engine.runBlocking(plan).nfe
                items = plan.count
                let tangents = plan.divergence.tangents(dimension: model.data.dimension)
                let rows = Double(counts.reduce(0, +))  // summed over dequantization draws
                flops = rows * (cost.perRow + cost.perTime + Double(tangents) * cost.perTangent)
            }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            nfe = counts.reduce(0, +)
        }
        times.sort()
        return WorkloadMeasurement(id: id, threads: threads, seconds: times[times.count / 2], items: items,
                                   nfe: nfe, flops: flops, rooflineGFLOPs: roofline, rooflineSmallGFLOPs: small,
                                   baseRSS: base, peakRSS: ResidentMemory.peak())
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
