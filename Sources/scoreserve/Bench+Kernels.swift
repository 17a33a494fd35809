import ArgumentParser
import Foundation
import ScoreBench
import ScoreCore
import ScoreJSON

extension Bench {
    /// Kernel timings relative to a same-run sgemm; checked against a thresholds file.
    func kernels() throws -> JSONObject {
        print("\nkernels (1 thread; relative = time / the same run's 256×128×128 sgemm)")
        var out = JSONObject()
        var failures: [String] = []
        let stored = try check.map { path -> JSONObject in
            guard let data = FileManager.default.contents(atPath: path),
                  case .object(let o) = try JSONValue.parse([UInt8](data)) else {
                throw ValidationError("cannot read thresholds from \(path)")
            }
            return o
        }
        var timings: [(String, Kernels.Timing)] = []
        for name in ["moons-vp", "digits-vp"] {
            let model = try ScoreModel.load(directory: models + "/" + name)
            timings += try Kernels.run(model: model).map { ("\(name)/\($0.name)", $0) }
        }
        timings += Kernels.gemm().map { ($0.name, $0) }
        timings += try Kernels.json().map { ($0.name, $0) }
        do {
            for (key, k) in timings {
                var line = "  \(key.padding(toLength: 30, withPad: " ", startingAt: 0)) \(Self.f(k.microseconds, 1)) µs, "
                    + "relative \(Self.f(k.relative, 3))"
                if let stored, let limit = stored[key]?.doubleValue {
                    let ok = k.relative <= limit * 1.2
                    line += ok ? " (threshold \(Self.f(limit, 3)): ok)" : " (threshold \(Self.f(limit, 3)): SLOWER by more than 20%)"
                    if !ok { failures.append(key) }
                }
                print(line)
                out[key] = .number(k.relative)
            }
        }
        if let path = writeThresholds {
            try (JSONValue.object(out).encoded() + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            print("  wrote \(path)")
        }
        if !failures.isEmpty {
            throw ValidationError("kernels slower than their thresholds by more than 20%: \(failures.joined(separator: ", "))")
        }
        return out
    }
}
