import ArgumentParser
import Foundation
import ScoreBench
import ScoreJSON

extension Bench {
    /// Peak resident memory of requests of growing n (fresh processes): bytes per sample.
    func memory() throws -> JSONObject {
        print("\nmemory: peak resident size of one sampling request (euler_maruyama, 10 steps, fresh process)")
        var points: [(n: Double, peak: Double)] = []
        for n in [10_000, 40_000, 160_000] {
            let line = try Self.runSelf(["bench", "--models", models, "--memory-child", "\(n)", "--child-threads", "2"])
            guard case .object(let o) = try JSONValue.parse(line), let peak = o["peak"]?.doubleValue,
                  let base = o["base"]?.doubleValue else { throw ValidationError("bad memory child output: \(line)") }
            points.append((Double(n), peak))
            print("  n = \(n): peak \(Int(peak) / 1024) KiB (\(Int(base) / 1024) KiB before the request)")
        }
        let slope = (points[2].peak - points[0].peak) / (points[2].n - points[0].n)
        print("  growth: \(Self.f(slope, 1)) bytes per sample (2-D samples, JSON answer included)")
        return JSONObject(["bytes_per_sample": .number(slope)])
    }
}
