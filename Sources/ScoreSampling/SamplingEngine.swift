import Foundation
import ScoreCore

/// Runs sampling, likelihood and encoding jobs: each job is cut into chunks of
/// trajectories that the shared `Scheduler` runs across the cores.
///
/// Sample `i` of (model, parameters, seed) is a pure function of those: its noise is
/// keyed by (seed, offset + i, step, stream) and the network's row groups make its
/// arithmetic independent of the other rows in its chunk, so the bits do not depend
/// on `n`, on the number of threads, or on other jobs running at the same time.
/// (`corrector: "langevin"` couples a request's samples, so it depends on `n`.)
public final class SamplingEngine: Sendable {
    public let scheduler: Scheduler
    /// Trajectories per chunk.
    public let chunkSize: Int
    /// What this engine has run.
    public let stats = EngineStats()

    /// Rows per chunk for a job of `n` rows: `chunkSize`, or fewer (whole row `group`s) when
    /// that is what it takes to give every worker a chunk, so small requests use all
    /// cores too. Chunking never changes a row's numbers.
    /// `limit` caps it below `chunkSize` where small chunks cost nothing extra.
    func chunkRows(_ n: Int, limit: Int = .max, group: Int = BLAS.rowGroup) -> Int {
        let perWorker = (n + scheduler.width - 1) / Swift.max(1, scheduler.width)
        let padded = (perWorker + group - 1) / group * group
        return Swift.max(1, Swift.min(chunkSize, limit, padded))
    }

    /// Longest time grid whose conditioning a job precomputes (~5 ms for a 2-D mlp).
    static let maxTableSteps = 5_000
    /// Largest precomputed conditioning per job.
    static let maxTableBytes = 32 << 20
    /// Time tables kept across jobs (see `TimeTableCache`).
    let timeTables = TimeTableCache(capacity: 64 << 20)
    /// Row evaluations per chunk for jobs with a shared time table (8 rows × 1000 steps).
    static let chunkEvaluations = 8_000
    /// FLOPs per chunk at most (~20–40 ms on one core; 16 rows × 1000 steps of the 2-D
    /// mlp), where the network's row groups allow: a chunk holds its worker until its
    /// rows finish every step, so costly networks (a conv U-Net) get fewer rows per
    /// chunk and a small request never queues behind a long one for long.
    static let chunkFLOPs = 2e9

    /// Rows per chunk that keep `evaluations` network evaluations per row within
    /// `chunkFLOPs`: whole row groups, at least one.
    static func costLimit(_ network: any ScoreNetwork, evaluations: Int) -> Int {
        let rows = Int(chunkFLOPs / (Double(Swift.max(1, evaluations)) * Swift.max(1, network.flopsPerRow)))
        let group = Swift.max(1, network.rowGroup)
        return Swift.max(group, rows / group * group)
    }

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, chunkSize: Int = 32) {
        precondition(chunkSize > 0)
        scheduler = Scheduler(width: threads)
        self.chunkSize = chunkSize
    }

    // MARK: Jobs

    /// Runs a plan's job on the scheduler and calls `completion` (on a worker thread)
    /// when it ends.
    public func submit<P: EnginePlan>(_ plan: P, control: JobControl = JobControl(),
                                      completion: @escaping @Sendable (Result<P.Output, SamplingError>) -> Void) {
        let job = plan.job(on: self)
        let (failure, body, isStopped) = wrap(job, control)
        scheduler.submit(chunks: job.chunks, body, isStopped: isStopped) {
            control.progress?.complete()
            if let error = failure.error { completion(.failure(error)); return }
            do throws(SamplingError) {
                try control.check()
                completion(.success(job.finish()))
            } catch {
                completion(.failure(error))
            }
        }
    }

    /// Runs a plan's job on the scheduler and awaits it.
    public func run<P: EnginePlan>(_ plan: P, control: JobControl = JobControl()) async throws(SamplingError) -> P.Output {
        let job = plan.job(on: self)
        let (failure, body, isStopped) = wrap(job, control)
        await scheduler.run(chunks: job.chunks, body, isStopped: isStopped)
        control.progress?.complete()
        if let error = failure.error { throw error }
        try control.check()
        return job.finish()
    }

    /// Runs a plan's job, blocking the calling thread (command-line tools and tests;
    /// never call it from async code, whose threads it would hold).
    public func runBlocking<P: EnginePlan>(_ plan: P, control: JobControl = JobControl()) throws(SamplingError) -> P.Output {
        let job = plan.job(on: self)
        let (failure, body, isStopped) = wrap(job, control)
        scheduler.runBlocking(chunks: job.chunks, body, isStopped: isStopped)
        control.progress?.complete()
        if let error = failure.error { throw error }
        try control.check()
        return job.finish()
    }

    /// Wraps a job's chunks so the first error stops the others, and reports progress;
    /// also returns whether the job must stop, for the scheduler to drop its chunks.
    private func wrap<T>(_ job: PreparedJob<T>, _ control: JobControl)
        -> (JobFailure, @Sendable (Int) -> Void, @Sendable () -> Bool) {
        let failure = JobFailure()
        let linked = control.linked(to: failure.token, stats: control.progress?.counters(under: stats) ?? stats)
        control.progress?.start(chunks: job.chunks)
        return (failure, { index in
            linked.progress?.chunkStarted()
            do throws(SamplingError) {
                try linked.check()
                try job.body(index, linked)
            } catch {
                failure.record(error)
            }
            linked.progress?.advance()
        }, { linked.isStopped })
    }

    /// Draws samples `offset ..< offset + n` of the seed's sequence.
    public func sample(_ model: ScoreModel, _ options: SampleOptions,
                       control: JobControl = JobControl()) async throws(SamplingError) -> SampleResult {
        try await run(try SamplePlan(model, options), control: control)
    }

    /// Blocking form of `sample`.
    public func sampleBlocking(_ model: ScoreModel, _ options: SampleOptions,
                               control: JobControl = JobControl()) throws(SamplingError) -> SampleResult {
        try runBlocking(try SamplePlan(model, options), control: control)
    }

    /// Log-likelihoods (nats, data space) of points by the instantaneous change of
    /// variables along the probability-flow ODE from eps to T (rk45).
    public func likelihood(_ model: ScoreModel, _ options: LikelihoodOptions,
                           control: JobControl = JobControl()) async throws(SamplingError) -> LikelihoodResult {
        try await run(try LikelihoodPlan(model, options), control: control)
    }

    /// Blocking form of `likelihood`.
    public func likelihoodBlocking(_ model: ScoreModel, _ options: LikelihoodOptions,
                                   control: JobControl = JobControl()) throws(SamplingError) -> LikelihoodResult {
        try runBlocking(try LikelihoodPlan(model, options), control: control)
    }

    /// Prior latents x(T) of data points: the probability-flow ODE from eps to T (rk45).
    public func encode(_ model: ScoreModel, _ options: EncodeOptions,
                       control: JobControl = JobControl()) async throws(SamplingError) -> EncodeResult {
        try await run(try EncodePlan(model, options), control: control)
    }

    /// Blocking form of `encode`.
    public func encodeBlocking(_ model: ScoreModel, _ options: EncodeOptions,
                               control: JobControl = JobControl()) throws(SamplingError) -> EncodeResult {
        try runBlocking(try EncodePlan(model, options), control: control)
    }

    // MARK: Preparing jobs

    func prepareScore(_ plan: ScorePlan) -> PreparedJob<ScoreResult> {
        let model = plan.model, d = model.data.dimension, n = plan.count
        let scores = JobOutput<Float>(count: n * d, initial: 0)
        let size = chunkSize * 8
        return PreparedJob(chunks: (n + size - 1) / size, body: { chunk, control throws(SamplingError) in
            try control.check()
            let first = chunk * size, rows = Swift.min(size, n - first)
            let out = model.scores(dataSpace: Array(plan.x[(first * d)..<((first + rows) * d)]),
                                   times: Array(plan.times[first..<(first + rows)]))
            control.stats?.evaluated(rows: rows)
            for (i, v) in out.enumerated() {
                guard v.isFinite else { throw .nonFinite("the score of point \(first + i / d) is not finite") }
                scores.buffer[first * d + i] = v
            }
        }, finish: { ScoreResult(scores: scores.array) })
    }

    func prepareSample(_ plan: SamplePlan) -> PreparedJob<SampleResult> {
        let model = plan.model, sampler = plan.sampler, n = plan.n
        let d = model.data.dimension
        let samples = JobOutput<Float>(count: n * d, initial: 0)
        let nfe = JobOutput<Int>(count: n, initial: 0)
        let logLikelihood = JobOutput<Double>(count: sampler.returnsLogLikelihood ? n : 0, initial: 0)
        // Samplers whose rows share one grid of times get the grid's time conditioning
        // computed once for the job, by its first chunk on a worker (never on the
        // caller's thread, which may be the HTTP server's), and shared by its chunks; a
        // job cancelled before it runs never builds it.
        let table = sampler.sharedTimeGrid(maxSteps: Self.maxTableSteps).flatMap { grid -> SharedTimeTable? in
            guard let bytes = model.network.timeTableBytes(steps: grid.count), bytes <= Self.maxTableBytes else { return nil }
            return timeTables.table(model.network, grid: grid, bytes: bytes, maxBytes: Self.maxTableBytes)
        }
        let evaluations = sampler.evaluationsPerSample
        // At least a batch of rows, where the network evaluates a batch faster than its rows alone.
        let network = model.network, group = Swift.max(1, network.rowGroup)
        let costLimit = Swift.max(Self.costLimit(network, evaluations: evaluations), network.batchRows)
        let size: Int
        switch sampler.chunking {
        case .wholeRequest:
            size = n
        case .adaptive:
            // Rows keep their own times: small chunks balance workers (see likelihood).
            size = chunkRows(n, limit: Swift.min(8, costLimit), group: group)
        case .lockstep where table != nil:
            // With the conditioning shared, chunk size costs nothing: keep each chunk to about
            // `chunkEvaluations` row evaluations, so a small request never waits long for a worker.
            let limit = Swift.max(1, Self.chunkEvaluations / Swift.max(1, evaluations) / BLAS.rowGroup) * BLAS.rowGroup
            size = chunkRows(n, limit: Swift.min(limit, costLimit), group: group)
        case .lockstep:
            size = chunkRows(n, limit: costLimit, group: group)
        }
        let width = scheduler.width
        return PreparedJob(chunks: (n + size - 1) / size, body: { chunk, control throws(SamplingError) in
            let first = chunk * size, rows = Swift.min(size, n - first)
            let state = ChunkState(network: model.network, rows: rows, table: table?.value, stats: control.stats)
            if let latents = plan.latents {
                for i in 0..<(rows * d) { state.x[i] = latents[first * d + i] }
            } else {
                state.drawPrior(sde: model.sde, seed: plan.seed) { plan.offset + UInt64(first + $0) }
            }
            let ll = UnsafeMutablePointer<Double>.allocate(capacity: rows)
            defer { ll.deallocate() }
            try sampler.run(SampleChunk(state: state, first: first, seed: plan.seed, offset: plan.offset,
                                        control: control, logLikelihood: ll, parallelism: width))
            try state.checkFinite(state.x, firstSample: first, what: "sample")
            let data = model.data
            let point = UnsafeMutablePointer<Double>.allocate(capacity: d)
            defer { point.deallocate() }
            for r in 0..<rows {
                for j in 0..<d {
                    point[j] = data.toData(state.x[r * d + j], j)
                    let v = Float(point[j])
                    guard v.isFinite else { throw .nonFinite("sample \(first + r) is outside the Float32 range") }
                    samples.buffer[(first + r) * d + j] = v
                }
                nfe.buffer[first + r] = state.nfe[r]
                if sampler.returnsLogLikelihood {
                    // The data map's Jacobian at the sample.
                    let value = ll[r] + data.logAbsJacobian(point)
                    guard value.isFinite else { throw .nonFinite("the log-likelihood of sample \(first + r) is not finite") }
                    logLikelihood.buffer[first + r] = value
                }
            }
        }, finish: {
            let ll = sampler.returnsLogLikelihood ? logLikelihood.array : nil
            return SampleResult(seed: plan.seed, samples: samples.array, nfe: nfe.array, logLikelihood: ll,
                                bitsPerDim: ll.map { $0.map { -$0 / (Double(d) * M_LN2) } })
        })
    }

    func prepareLikelihood(_ plan: LikelihoodPlan) -> PreparedJob<LikelihoodResult> {
        let model = plan.model, divergence = plan.divergence, eps = plan.eps, options = plan
        let d = model.data.dimension, n = plan.count
        let draws = Swift.max(1, plan.dequantize)
        let ll = JobOutput<Double>(count: n, initial: 0)
        let latents = JobOutput<Double>(count: n * d, initial: 0)
        let nfe = JobOutput<Int>(count: n, initial: 0)
        // Adaptive rk45 steps make rows finish at different times: small chunks balance
        // the workers, and with a time per row there is no shared time embedding to lose.
        let tangents = divergence.tangents(dimension: d)
        let size = chunkRows(n, limit: Swift.min(8, Self.costLimit(
            model.network, evaluations: ODESolver.nominalAdaptiveEvaluations * (1 + tangents))))
        return PreparedJob(chunks: (n + size - 1) / size, body: { chunk, control throws(SamplingError) in
            let first = chunk * size, rows = Swift.min(size, n - first)
            let flow = ProbabilityFlow(sde: model.sde, network: model.network, capacity: rows, divergence: divergence,
                                       stats: control.stats, seed: options.seed, probeIndex: { UInt64(first + $0) })
            let w = flow.width
            let y = UnsafeMutablePointer<Double>.allocate(capacity: rows * w)
            // The (dequantized) data-space points of the draw, for the data map's Jacobian.
            let point = UnsafeMutablePointer<Double>.allocate(capacity: rows * d)
            var u = [Double](repeating: 0, count: d)
            defer { y.deallocate(); point.deallocate() }
            for draw in 0..<draws {
                for r in 0..<rows {
                    if options.dequantize > 0 {
                        u.withUnsafeMutableBufferPointer {
                            Noise.uniform(NoiseKey(seed: options.seed, index: UInt64(first + r), step: UInt32(draw),
                                                   stream: .dequantize), into: $0)
                        }
                    }
                    for j in 0..<d {
                        point[r * d + j] = options.x[(first + r) * d + j] + (options.dequantize > 0 ? u[j] : 0)
                        y[r * w + j] = model.data.toModel(point[r * d + j], j)
                    }
                    y[r * w + d] = 0
                }
                try ODESolver.rk45(flow, y: y, rows: rows, from: eps, to: model.sde.T, rtol: options.rtol,
                                   atol: options.atol, control: control, firstSample: first)
                for r in 0..<rows {
                    var norm = 0.0
                    for j in 0..<d { norm += y[r * w + j] * y[r * w + j] }
                    // log p_eps(x) = log π(z) + ∫_eps^T ∇·f̃ dt, then the data map's Jacobian.
                    let value = model.sde.priorLogDensity(squaredNorm: norm, dimension: d) + y[r * w + d]
                        + model.data.logAbsJacobian(point + r * d)
                    guard value.isFinite else { throw .nonFinite("the log-likelihood of point \(first + r) is not finite") }
                    ll.buffer[first + r] += value / Double(draws)
                    if draw == 0 { for j in 0..<d { latents.buffer[(first + r) * d + j] = y[r * w + j] } }
                }
            }
            for r in 0..<rows { nfe.buffer[first + r] = flow.nfe[r] }
        }, finish: {
            let values = ll.array
            return LikelihoodResult(logLikelihood: values, bitsPerDim: values.map { -$0 / (Double(d) * M_LN2) },
                                    latents: latents.array, nfe: nfe.array)
        })
    }

    func prepareEncode(_ plan: EncodePlan) -> PreparedJob<EncodeResult> {
        let model = plan.model, options = plan, eps = plan.eps
        let d = model.data.dimension, n = plan.count
        let latents = JobOutput<Double>(count: n * d, initial: 0)
        let nfe = JobOutput<Int>(count: n, initial: 0)
        let size = chunkSize
        return PreparedJob(chunks: (n + size - 1) / size, body: { chunk, control throws(SamplingError) in
            let first = chunk * size, rows = Swift.min(size, n - first)
            let flow = ProbabilityFlow(sde: model.sde, network: model.network, capacity: rows, divergence: nil,
                                       stats: control.stats)
            let y = UnsafeMutablePointer<Double>.allocate(capacity: rows * d)
            defer { y.deallocate() }
            for i in 0..<(rows * d) { y[i] = model.data.toModel(options.x[first * d + i], i % d) }
            try ODESolver.rk45(flow, y: y, rows: rows, from: eps, to: model.sde.T, rtol: options.rtol,
                               atol: options.atol, control: control, firstSample: first)
            for i in 0..<(rows * d) { latents.buffer[first * d + i] = y[i] }
            for r in 0..<rows { nfe.buffer[first + r] = flow.nfe[r] }
        }, finish: { EncodeResult(latents: latents.array, nfe: nfe.array) })
    }
}
