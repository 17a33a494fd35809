import ArgumentParser
import Foundation
import ScoreBench
import ScoreCore
import ScoreJSON
import ScoreSampling

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure sampling speed against the OpenBLAS sgemm roofline (workloads W0–W6).",
        discussion: """
            Each engine workload runs in a child process on 1 thread and on all threads;
            it reports network evaluations per second, the GFLOP/s of the network's GEMMs,
            sgemm's GFLOP/s on the same shapes measured in the same process, their ratio,
            the speed-up, and peak resident memory. The HTTP workloads start
            `scoreserve serve` and drive it over loopback (W6 needs wrk). Use a release build.

            Examples:
              scoreserve bench                          # everything, full size (minutes)
              scoreserve bench --only W1,W4 --scale 0.1 # two workloads at a tenth of n
              scoreserve bench --only kernels --check Benchmarks/thresholds.json
              scoreserve bench --only W1,W2 --scaling 1,2,4,8,16   # scaling curve
              scoreserve bench --only unet2d --unet-model .build/bench-unet2d/ddpm-cifar10-32-random --threads 1
            """)

    @Option(help: "Models directory (needs moons-vp, digits-vp and data/digits.csv).") var models = "Models"
    @Option(help: "Multiply the workloads' n by this (W0 keeps n = 1 and 16).") var scale = 1.0
    @Option(help: "Comma-separated parts: W0,W1,W2,W3,W4,W5,W6,memory,kernels,unet2d (default: all but unet2d).")
    var only: String?
    @Option(help: "A diffusers UNet2DModel directory for --only unet2d (Benchmarks/unet2d_bench.py writes one).")
    var unetModel: String?
    @Option(help: "Timed repeats of each unet2d figure, after a warm-up.") var repeats = 3
    @Option(help: "Runs of each engine workload on each thread count, interleaved across the counts; the median run is reported, with the spread.")
    var engineRepeats = 1
    @Option(help: "All-core thread count (default: the CPU limit).") var threads: Int?
    @Option(help: "Comma-separated thread counts for a scaling curve, e.g. 1,2,4,8,16 (default: 1 and all).")
    var scaling: String?
    @Option(help: "Seconds of each wrk run in W6.") var wrkSeconds = 10
    @Option(help: "Write every figure as JSON to this file.") var json: String?
    @Option(help: "Fail when a kernel is more than 20% slower than in this thresholds file.") var check: String?
    @Option(help: "Write the kernels' figures as a new thresholds file.") var writeThresholds: String?
    @Option(help: ArgumentHelp(visibility: .private)) var child: String?
    @Option(help: ArgumentHelp(visibility: .private)) var childThreads = 1
    @Option(help: ArgumentHelp(visibility: .private)) var memoryChild: Int?

    func run() throws {
        if let child { return try runChild(child) }
        if let memoryChild { return try runMemoryChild(memoryChild) }
        guard engineRepeats >= 1 else { throw ValidationError("--engine-repeats must be at least 1") }
        let parts = Set((only ?? "W0,W1,W2,W3,W4,W5,W6,memory,kernels").split(separator: ",").map { $0.uppercased() })
        let all = threads ?? CPULimit.available()
        let counts = try threadCounts(all: all)
        var report = JSONObject()
        report["machine"] = .string(Self.machine(threads: all))
        print("machine: \(Self.machine(threads: all))")

        let catalogue = try Workload.catalogue(models: models, scale: scale)
        var measurements: [JSONValue] = []
        let engineParts = catalogue.filter { parts.contains(String($0.id.prefix(2))) }
        if !engineParts.isEmpty {
            let method = engineRepeats > 1 ? "each the median of \(engineRepeats) interleaved runs, their spread below it; " : ""
            print("\nengine workloads (\(method)median of repeats for W0; roofline = sgemm on the network's x-path shapes at 256 rows, same threads)")
            print(Self.row(["workload", "thr", "seconds", "items/s", "NFE/s", "GFLOP/s", "roofline", "ratio",
                            "µs/item", "peak RSS"]))
        }
        for w in engineParts {
            // Every thread count once per round, so a slow spell of the machine falls on
            // one run of each rather than on all runs of one.
            var runs: [Int: [WorkloadMeasurement]] = [:]
            for _ in 0..<engineRepeats {
                for t in counts { runs[t, default: []].append(try spawnChild(w.id, threads: t)) }
            }
            var byThreads: [Int: WorkloadMeasurement] = [:]
            for t in counts {
                let sorted = runs[t]!.sorted { $0.seconds < $1.seconds }
                let m = sorted[sorted.count / 2]
                byThreads[t] = m
                var entry = m.json
                if engineRepeats > 1 {
                    entry["seconds_runs"] = .array(runs[t]!.map { .number($0.seconds) })
                    entry["ratio_runs"] = .array(runs[t]!.map { .number($0.ratio) })
                }
                measurements.append(.object(entry))
                print(Self.row([w.id, "\(t)", Self.f(m.seconds, 4), Self.f(Double(m.items) / m.seconds, 1),
                                Self.f(Double(m.nfe) / m.seconds, 0), Self.f(m.gflops, 1), Self.f(m.rooflineGFLOPs, 1),
                                Self.f(m.ratio, 3), Self.f(m.seconds / Double(m.items) * 1e6, 2),
                                "\(m.peakRSS / 1_048_576) MiB"]))
            }
            if engineRepeats > 1 {
                let spreads = counts.map { t in
                    let secs = runs[t]!.map(\.seconds), ratios = runs[t]!.map(\.ratio)
                    return "\(t) thr \(Self.f(secs.min()!, 4))–\(Self.f(secs.max()!, 4)) s, ratio \(Self.f(ratios.min()!, 3))–\(Self.f(ratios.max()!, 3))"
                }
                print("  \(w.id): \(engineRepeats) runs: \(spreads.joined(separator: "; "))")
            }
            if let one = byThreads[1], counts.count > 1 {
                let ups = counts.dropFirst().compactMap { t in byThreads[t].map { "\(t): \(Self.f(one.seconds / $0.seconds, 2))" } }
                print("  \(w.id): \(w.summary); speed-up over 1 thread at \(ups.joined(separator: ", "))")
            } else {
                print("  \(w.id): \(w.summary)")
            }
            if w.id.hasPrefix("W0"), let one = byThreads[1] {
                let steps = 1000.0
                print("  \(w.id): \(Self.f(one.seconds * 1e3, 2)) ms per call; beyond the network's FLOPs at the roofline: "
                      + "\(Self.f((one.seconds - one.rooflineSeconds) / steps * 1e6, 2)) µs per step")
            }
        }
        report["workloads"] = .array(measurements)
        if parts.contains("W0") { report["w0_http"] = .object(try httpServing(threads: all)) }
        if parts.contains("W6") { report["w6"] = .object(try httpLoad(threads: all)) }
        if parts.contains("MEMORY") { report["memory"] = .object(try memory()) }
        if parts.contains("KERNELS") { report["kernels"] = .object(try kernels()) }
        if parts.contains("UNET2D") { report["unet2d"] = .object(try unet2d(threads: all)) }
        if let json {
            try (JSONValue.object(report).encoded() + "\n").write(toFile: json, atomically: true, encoding: .utf8)
            print("\nwrote \(json)")
        }
    }

    /// 1 and all threads, or the `--scaling` list (which must start at 1: speed-ups are over it).
    private func threadCounts(all: Int) throws -> [Int] {
        guard let scaling else { return Array(Set([1, all])).sorted() }
        let counts = scaling.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard counts.first == 1, counts.allSatisfy({ $0 >= 1 }), counts.count == scaling.split(separator: ",").count else {
            throw ValidationError("--scaling wants positive thread counts starting at 1, e.g. 1,2,4,8,16; got '\(scaling)'")
        }
        return Array(Set(counts)).sorted()
    }

    // MARK: Children

    private func runChild(_ id: String) throws {
        guard let w = try Workload.catalogue(models: models, scale: scale).first(where: { $0.id == id }) else {
            throw ValidationError("no workload \(id)")
        }
        let m = try w.measure(models: models, threads: childThreads)
        print(try JSONValue.object(m.json).encoded())
    }

    private func spawnChild(_ id: String, threads: Int) throws -> WorkloadMeasurement {
        let line = try Self.runSelf(["bench", "--models", models, "--scale", "\(scale)", "--child", id,
                                     "--child-threads", "\(threads)"])
        guard case .object(let o) = try JSONValue.parse(line) else { throw ValidationError("bad child output: \(line)") }
        return try WorkloadMeasurement(json: o)
    }

    /// Peak resident memory of a sampling request of `n` samples (10 steps), in a fresh process.
    private func runMemoryChild(_ n: Int) throws {
        let model = try ScoreModel.load(directory: models + "/moons-vp")
        var o = SampleOptions()
        o.n = n; o.seed = 1; o.sampler = "euler_maruyama"; o.steps = 10
        let base = ResidentMemory.current()
        let result = try SamplingEngine(threads: childThreads).sampleBlocking(model, o)
        // The JSON answer, as the API would build it, is part of a request's footprint.
        let answer = try JSONValue.points(result.samples, shape: model.data.shape).encoded()
        print("{\"n\":\(n),\"base\":\(base),\"peak\":\(ResidentMemory.peak()),\"bytes\":\(answer.utf8.count)}")
    }

    /// This binary, for child processes and the HTTP workloads' server.
    static var executable: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }

    static func runSelf(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // OpenBLAS's own threads (it is pinned to one thread, but a threaded build spins
        // its idle workers for a while after start-up) must not steal the workers' cores.
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("`scoreserve \(arguments.joined(separator: " "))` failed")
        }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: Formatting

    static func f(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

    static func row(_ cells: [String]) -> String {
        let widths = [9, 4, 10, 11, 12, 9, 9, 7, 10, 10]
        return zip(cells, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }
            .joined(separator: " ")
    }

    static func machine(threads: Int) -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        return "\(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores (\(threads) used), \(BLAS.description)"
    }
}
