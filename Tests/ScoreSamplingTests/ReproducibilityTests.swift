import Foundation
import Synchronization
import Testing
import ScoreCore
import ScoreSampling

/// The determinism guarantee: sample i of (model, parameters, seed) has the same bits
/// whatever n is, however many threads run, and whatever else runs at the same time.
@Suite("Reproducibility and job control", .serialized)
struct ReproducibilityTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A real GEMM network (the mlp fixture) and an analytic one.
    static func models() throws -> [ScoreModel] {
        [try ScoreModel.load(directory: fixtures.appendingPathComponent("mlp-vp").path),
         TestModels.gmm(SDE(kind: .ve), components: TestModels.mixture2D)]
    }

    /// One option set per sampler family, with few steps to keep the test fast.
    static func optionSets() -> [SampleOptions] {
        var sets: [SampleOptions] = []
        for sampler in ["pc", "euler_maruyama", "reverse_diffusion", "ode", "dpm_solver"] {
            var o = SampleOptions()
            o.seed = 1234
            o.sampler = sampler
            if sampler != "ode" { o.steps = sampler == "dpm_solver" ? 12 : 60 }
            sets.append(o)
        }
        var pcCorrector = SampleOptions()
        pcCorrector.seed = 99
        pcCorrector.steps = 40
        pcCorrector["corrector"] = "annealed_langevin"
        sets.append(pcCorrector)
        var likelihood = SampleOptions()
        likelihood.seed = 7
        likelihood.sampler = "ode"
        likelihood["log_likelihood"] = true
        likelihood["estimator"] = "hutchinson"
        sets.append(likelihood)
        return sets
    }

    static func bits(_ r: SampleResult, rows: Range<Int>, d: Int) -> [UInt32] {
        r.samples[(rows.lowerBound * d)..<(rows.upperBound * d)].map(\.bitPattern)
    }

    @Test("threads 1 vs all cores, n = 5 vs 50, offsets, and other jobs do not change a sample's bits")
    func bitwise() throws {
        let one = SamplingEngine(threads: 1, chunkSize: 32)
        let all = SamplingEngine(threads: max(2, ProcessInfo.processInfo.activeProcessorCount), chunkSize: 32)
        for model in try Self.models() {
            let d = model.data.dimension
            for base in Self.optionSets() {
                var small = base; small.n = 5
                var large = base; large.n = 50
                let a = try one.sampleNow(model, small)
                let b = try all.sampleNow(model, large)
                let label = "\(model.name) \(base.sampler)"
                #expect(Self.bits(a, rows: 0..<5, d: d) == Self.bits(b, rows: 0..<5, d: d), "\(label): n=5 vs n=50")
                #expect(a.nfe == Array(b.nfe.prefix(5)), "\(label): nfe")
                if let la = a.logLikelihood, let lb = b.logLikelihood {
                    #expect(la.map(\.bitPattern) == lb.prefix(5).map(\.bitPattern), "\(label): log-likelihood")
                }
                // A shard: samples 37 ..< 45 of the same sequence.
                var shard = base; shard.n = 8; shard.offset = 37
                let c = try all.sampleNow(model, shard)
                #expect(Self.bits(c, rows: 0..<8, d: d) == Self.bits(b, rows: 37..<45, d: d), "\(label): offset 37")
            }
        }
    }

    @Test("a job's bits are the same alone and next to a concurrent job")
    func concurrentJobs() throws {
        let engine = SamplingEngine(threads: 2, chunkSize: 8)
        let model = try Self.models()[0]
        var o = SampleOptions(); o.n = 24; o.seed = 5; o.steps = 80
        let alone = try engine.sampleNow(model, o)
        // The other job is far longer than this one (n = 400 at 80 steps finished first
        // once the step noise got faster) and is cancelled once this one is done.
        var other = SampleOptions(); other.n = 4000; other.seed = 6; other.steps = 800
        let otherOptions = other
        let progress = JobProgress()
        let token = CancellationToken()
        let control = JobControl(token: token, progress: progress)
        let busyDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? engine.sampleBlocking(model, otherOptions, control: control)
            busyDone.signal()
        }
        while progress.fraction.total == 0 { usleep(500) }
        let together = try engine.sampleNow(model, o)
        let (done, total) = progress.fraction
        token.cancel()
        busyDone.wait()
        #expect(done < total, "the other job was still running")
        #expect(together.samples.map(\.bitPattern) == alone.samples.map(\.bitPattern))
    }

    @Test("langevin couples a request's samples: identical for the same n, different for another n")
    func langevin() throws {
        let engine = SamplingEngine(threads: 2)
        let model = TestModels.gmm(SDE(kind: .ve), components: TestModels.mixture2D)
        var o = SampleOptions(); o.n = 6; o.seed = 3; o.steps = 30; o["corrector"] = "langevin"
        let a = try engine.sampleNow(model, o), b = try engine.sampleNow(model, o)
        #expect(a.samples == b.samples)
        o.n = 7
        let c = try engine.sampleNow(model, o)
        #expect(Array(c.samples.prefix(12)) != a.samples)
        o.offset = 1
        #expect(throws: SamplingError.invalidArgument(field: "offset", message: "cannot be combined with corrector \"langevin\"")) {
            try engine.sampleNow(model, o)
        }
    }

    /// The langevin corrector's rows run in parallel sub-chunks between its couplings,
    /// cut by the network's row groups only: the bits cannot depend on the threads.
    @Test("langevin on 1, 2 and 3 threads: the same bits (parallel sub-chunks, one fixed-order reduction)", arguments: [1, 70])
    func langevinThreads(_ n: Int) throws {
        // A trained mlp (rows in groups) and the analytic mixture (random weights diverge
        // under langevin; so does a vp grid of few steps, where α = 1 − β_i < 0).
        let moons = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Models/moons-vp")
        for model in [try ScoreModel.load(directory: moons.path), try Self.models()[1]] {
            var o = SampleOptions(); o.n = n; o.seed = 5; o.steps = 40; o.sampler = "pc"; o["corrector"] = "langevin"
            o["corrector_steps"] = .integer(2)
            let runs = try [1, 2, 3].map { try SamplingEngine(threads: $0).sampleNow(model, o) }
            let finite = runs[0].samples.allSatisfy { $0.isFinite }
            #expect(finite)
            for r in runs.dropFirst() {
                #expect(r.samples.map(\.bitPattern) == runs[0].samples.map(\.bitPattern), "\(model.name) n = \(n)")
                #expect(r.nfe == runs[0].nfe && r.nfe.allSatisfy { $0 == 40 * 3 })
            }
        }
    }

    @Test("a cancelled 1,000,000-step job stops within a step per chunk")
    func cancellation() throws {
        let engine = SamplingEngine(threads: 2, chunkSize: 4)
        let model = TestModels.gmm(SDE(kind: .vp), components: TestModels.mixture2D)
        var o = SampleOptions(); o.n = 16; o.seed = 1; o.steps = 1_000_000; o.sampler = "euler_maruyama"
        let options = o
        let token = CancellationToken()
        let progress = JobProgress()
        let finished = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<SampleResult, SamplingError>?>(nil)
        Thread.detachNewThread {
            let r = Result { () throws(SamplingError) in
                try engine.sampleBlocking(model, options, control: JobControl(token: token, progress: progress))
            }
            outcome.withLock { $0 = r }
            finished.signal()
        }
        // Let the first chunks run, then cancel.
        while progress.fraction.total == 0 { usleep(1000) }
        usleep(50_000)
        let cancelledAt = ContinuousClock.now
        token.cancel()
        let stepsAtCancel = engine.stats.stepsRun
        finished.wait()
        let stopped = ContinuousClock.now - cancelledAt
        #expect(throws: SamplingError.cancelled) { try outcome.withLock { $0! }.get() }
        // Each running chunk takes at most its step in flight and the check that stops it,
        // and the chunks behind the running ones never start: counted in steps, which a
        // machine busy with the other suites cannot blur (the whole job is 4 × 10⁶ chunk
        // steps). Wall time only bounds it loosely (4.1 s seen under a full parallel run).
        #expect(engine.stats.stepsRun - stepsAtCancel <= 2 * engine.scheduler.width, "steps after the cancel")
        #expect(stopped < .seconds(15), "stopped after \(stopped)")
        #expect(progress.fraction.done == progress.fraction.total)
    }

    @Test("a deadline stops a job with deadlineExceeded")
    func deadline() throws {
        let engine = SamplingEngine(threads: 2)
        let model = TestModels.gmm(SDE(kind: .vp), components: TestModels.mixture2D)
        var o = SampleOptions(); o.n = 8; o.seed = 1; o.steps = 1_000_000
        let start = ContinuousClock.now
        #expect(throws: SamplingError.deadlineExceeded) {
            try engine.sampleNow(model, o, control: .timeout(milliseconds: 100))
        }
        // Stopped long before the end, counted in steps: load slows the steps, not the
        // deadline. Wall time only bounds it loosely (2.06 s seen under a full parallel run).
        #expect(engine.stats.stepsRun < 250_000, "\(engine.stats.stepsRun) of 1000000 steps run")
        #expect(ContinuousClock.now - start < .seconds(15))
    }

    @Test("a small job is not held back by a large one")
    func fairness() throws {
        let engine = SamplingEngine(threads: 2, chunkSize: 16)
        let model = TestModels.gmm(SDE(kind: .vp), components: TestModels.mixture2D)
        var big = SampleOptions(); big.n = 4000; big.seed = 1; big.steps = 400; big.sampler = "euler_maruyama"
        var small = SampleOptions(); small.n = 10; small.seed = 2; small.steps = 400; small.sampler = "euler_maruyama"
        let progress = JobProgress()
        let bigDone = DispatchSemaphore(value: 0)
        // Plain threads, not the Swift concurrency pool, which other tests may be holding.
        let bigOptions = big
        Thread.detachNewThread {
            _ = try? engine.sampleBlocking(model, bigOptions, control: JobControl(progress: progress))
            bigDone.signal()
        }
        while progress.fraction.done == 0 { usleep(1000) }
        _ = try engine.sampleBlocking(model, small)
        // The small job (one chunk) ran while the big one still had most of its 250 chunks left.
        let (done, total) = progress.fraction
        #expect(done < total / 2, "big job had finished \(done)/\(total) chunks")
        bigDone.wait()
    }

    @Test("invalid options name the field")
    func validation() throws {
        let engine = SamplingEngine(threads: 1)
        let ve = TestModels.gmm(SDE(kind: .ve), components: TestModels.mixture2D)
        let subvp = TestModels.gmm(SDE(kind: .subvp), components: TestModels.mixture2D)
        func field(_ model: ScoreModel, _ change: (inout SampleOptions) -> Void) -> String? {
            var o = SampleOptions()
            change(&o)
            do { _ = try SamplePlan(model, o) } catch {
                if case .invalidArgument(let field, _) = error { return field }
            }
            return nil
        }
        #expect(field(ve) { $0.n = 0 } == "n")
        #expect(field(ve) { $0.steps = 0 } == "steps")
        #expect(field(ve) { $0.seed = UInt64(Int64.max) + 1 } == "seed")
        #expect(field(ve) { $0.offset = 1 << 53 } == "offset")
        #expect(field(subvp) { $0.sampler = "ancestral" } == "sampler")
        #expect(field(subvp) { $0["predictor"] = "ancestral" } == "predictor")
        #expect(field(ve) { $0.sampler = "ode"; $0["order"] = .integer(Int64(2))} == "order")
        #expect(field(ve) { $0.sampler = "dpm_solver"; $0["order"] = .integer(Int64(4))} == "order")
        #expect(field(ve) { $0["corrector"] = "langevin"; $0.sampler = "ode" } == "corrector")
        #expect(field(ve) { $0.sampler = "ode"; $0.steps = 10 } == "steps")
        #expect(field(ve) { $0["log_likelihood"] = true } == "log_likelihood")
        #expect(field(ve) { $0.latents = [1, 2] } == "latents")
        #expect(field(ve) { $0.sampler = "ode"; $0.latents = [1, 2, 3] } == "latents")
        #expect(field(ve) { $0.eps = 0 } == "eps")
        #expect(field(ve) { $0["snr"] = .number(-1)} == "snr")
        #expect(field(ve) { $0.sampler = "ode"; $0["rtol"] = .number(0)} == "rtol")
        #expect(field(ve) { $0.sampler = "ode"; $0["method"] = "euler" } == nil)
        _ = engine
    }

    @Test("a diverging sampler is a clear error, never NaN")
    func divergence() throws {
        let engine = SamplingEngine(threads: 1)
        // A huge snr makes the Langevin corrector explode.
        let model = TestModels.gmm(SDE(kind: .ve), components: TestModels.mixture2D)
        var o = SampleOptions(); o.n = 4; o.seed = 1; o.steps = 200; o["snr"] = .number(10); o["corrector_steps"] = .integer(Int64(5))
        do {
            let r = try engine.sampleNow(model, o)
            #expect(r.samples.allSatisfy { $0.isFinite })
        } catch {
            guard case .nonFinite(let message) = error else { Issue.record("unexpected \(error)"); return }
            #expect(message.contains("sample"))
        }
    }
}
