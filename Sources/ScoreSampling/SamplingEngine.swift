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

    /// Rows per chunk for a job of `n` rows: `chunkSize`, or fewer (whole row groups) when
    /// that is what it takes to give every worker a chunk, so small requests use all
    /// cores too. Chunking never changes a row's numbers.
    /// `limit` caps it below `chunkSize` where small chunks cost nothing extra.
    func chunkRows(_ n: Int, limit: Int = .max) -> Int {
        let perWorker = (n + scheduler.width - 1) / Swift.max(1, scheduler.width)
        return Swift.max(1, Swift.min(chunkSize, limit, BLAS.paddedRows(perWorker)))
    }

    /// Longest time grid whose conditioning a job precomputes (~5 ms for a 2-D mlp).
    static let maxTableSteps = 5_000
    /// Largest precomputed conditioning per job.
    static let maxTableBytes = 32 << 20
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
    /// A nominal number of evaluations for adaptive (rk45) solves, for `costLimit`.
    static let adaptiveEvaluations = 150

    public init(threads: Int = ProcessInfo.processInfo.activeProcessorCount, chunkSize: Int = 32) {
        precondition(chunkSize > 0)
        scheduler = Scheduler(width: threads)
        self.chunkSize = chunkSize
    }

    // MARK: Jobs

    /// A validated job: its chunks and how to assemble the answer once they have run.
    struct PreparedJob<T: Sendable>: Sendable {
        let chunks: Int
        let body: @Sendable (Int, JobControl) throws(SamplingError) -> Void
        let finish: @Sendable () -> T
    }

    /// Wraps a job's chunks so the first error stops the others, and reports progress.
    private func wrap<T>(_ job: PreparedJob<T>, _ control: JobControl) -> (JobFailure, @Sendable (Int) -> Void) {
        let failure = JobFailure()
        let linked = control.linked(to: failure.token, stats: stats)
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
        })
    }

    /// Runs a job on the scheduler and awaits it.
    func execute<T>(_ job: PreparedJob<T>, _ control: JobControl) async throws(SamplingError) -> T {
        let (failure, body) = wrap(job, control)
        await scheduler.run(chunks: job.chunks, body)
        if let error = failure.error { throw error }
        try control.check()
        return job.finish()
    }

    /// Runs a job on the scheduler and calls `completion` (on a worker thread) when done.
    func submit<T>(_ job: PreparedJob<T>, _ control: JobControl,
                   completion: @escaping @Sendable (Result<T, SamplingError>) -> Void) {
        let (failure, body) = wrap(job, control)
        scheduler.submit(chunks: job.chunks, body) {
            if let error = failure.error { completion(.failure(error)); return }
            do throws(SamplingError) {
                try control.check()
                completion(.success(job.finish()))
            } catch {
                completion(.failure(error))
            }
        }
    }

    /// Starts a sampling job and calls `completion` when it ends; validation errors are
    /// thrown at once, before any work is queued.
    public func sample(_ model: ScoreModel, _ options: SampleOptions, control: JobControl = JobControl(),
                       completion: @escaping @Sendable (Result<SampleResult, SamplingError>) -> Void) throws(SamplingError) {
        submit(try prepareSample(model, options), control, completion: completion)
    }

    /// Starts a likelihood job (see `sample(_:_:control:completion:)`).
    public func likelihood(_ model: ScoreModel, _ options: LikelihoodOptions, control: JobControl = JobControl(),
                           completion: @escaping @Sendable (Result<LikelihoodResult, SamplingError>) -> Void) throws(SamplingError) {
        submit(try prepareLikelihood(model, options), control, completion: completion)
    }

    /// Starts an encoding job (see `sample(_:_:control:completion:)`).
    public func encode(_ model: ScoreModel, _ options: EncodeOptions, control: JobControl = JobControl(),
                       completion: @escaping @Sendable (Result<EncodeResult, SamplingError>) -> Void) throws(SamplingError) {
        submit(try prepareEncode(model, options), control, completion: completion)
    }

    /// Starts evaluating the network's scores at data-space points (model-space scores).
    public func score(_ model: ScoreModel, _ options: ScoreOptions, control: JobControl = JobControl(),
                      completion: @escaping @Sendable (Result<[Float], SamplingError>) -> Void) throws(SamplingError) {
        submit(try prepareScore(model, options), control, completion: completion)
    }

    /// Runs a job on the scheduler, blocking the calling thread (command-line tools and
    /// tests; never call it from async code, whose threads it would hold).
    func executeBlocking<T>(_ job: PreparedJob<T>, _ control: JobControl) throws(SamplingError) -> T {
        let (failure, body) = wrap(job, control)
        scheduler.runBlocking(chunks: job.chunks, body)
        if let error = failure.error { throw error }
        try control.check()
        return job.finish()
    }

    /// Draws samples `offset ..< offset + n` of the seed's sequence.
    public func sample(_ model: ScoreModel, _ options: SampleOptions,
                       control: JobControl = JobControl()) async throws(SamplingError) -> SampleResult {
        try await execute(try prepareSample(model, options), control)
    }

    /// Blocking form of `sample`.
    public func sampleBlocking(_ model: ScoreModel, _ options: SampleOptions,
                               control: JobControl = JobControl()) throws(SamplingError) -> SampleResult {
        try executeBlocking(try prepareSample(model, options), control)
    }

    /// Log-likelihoods (nats, data space) of points by the instantaneous change of
    /// variables along the probability-flow ODE from eps to T (rk45).
    public func likelihood(_ model: ScoreModel, _ options: LikelihoodOptions,
                           control: JobControl = JobControl()) async throws(SamplingError) -> LikelihoodResult {
        try await execute(try prepareLikelihood(model, options), control)
    }

    /// Blocking form of `likelihood`.
    public func likelihoodBlocking(_ model: ScoreModel, _ options: LikelihoodOptions,
                                   control: JobControl = JobControl()) throws(SamplingError) -> LikelihoodResult {
        try executeBlocking(try prepareLikelihood(model, options), control)
    }

    /// Prior latents x(T) of data points: the probability-flow ODE from eps to T (rk45).
    public func encode(_ model: ScoreModel, _ options: EncodeOptions,
                       control: JobControl = JobControl()) async throws(SamplingError) -> EncodeResult {
        try await execute(try prepareEncode(model, options), control)
    }

    /// Blocking form of `encode`.
    public func encodeBlocking(_ model: ScoreModel, _ options: EncodeOptions,
                               control: JobControl = JobControl()) throws(SamplingError) -> EncodeResult {
        try executeBlocking(try prepareEncode(model, options), control)
    }

    // MARK: Preparing jobs

    private func prepareScore(_ model: ScoreModel, _ options: ScoreOptions) throws(SamplingError) -> PreparedJob<[Float]> {
        let d = model.data.dimension
        try check(!options.x.isEmpty && options.x.count % d == 0, "x", "expected points of \(d) values each")
        let n = options.x.count / d
        try check(options.times.count == n, "t", "has \(options.times.count) times for \(n) points")
        if let t = options.times.first(where: { !($0 > 0 && $0 <= model.sde.T) }) {
            throw .invalidArgument(field: "t", message: "times must be in (0, \(model.sde.T)], got \(t)")
        }
        let scores = JobOutput<Float>(count: n * d, initial: 0)
        let size = chunkSize * 8
        return PreparedJob(chunks: (n + size - 1) / size, body: { chunk, control throws(SamplingError) in
            try control.check()
            let first = chunk * size, rows = Swift.min(size, n - first)
            var x = Array(options.x[(first * d)..<((first + rows) * d)])
            model.data.toModel(&x)
            let workspace = ScoreWorkspace(network: model.network, rows: rows)
            let out = workspace.score(x.map { Float($0) }, times: Array(options.times[first..<(first + rows)]))
            for (i, v) in out.enumerated() {
                guard v.isFinite else { throw .nonFinite("the score of point \(first + i / d) is not finite") }
                scores.buffer[first * d + i] = v
            }
        }, finish: { scores.array })
    }

    private func prepareSample(_ model: ScoreModel, _ options: SampleOptions) throws(SamplingError) -> PreparedJob<SampleResult> {
        let o = try options.resolved(for: model)
        let d = model.data.dimension
        let samples = JobOutput<Float>(count: o.n * d, initial: 0)
        let nfe = JobOutput<Int>(count: o.n, initial: 0)
        let logLikelihood = JobOutput<Double>(count: o.logLikelihood ? o.n : 0, initial: 0)
        // The reverse-SDE samplers evaluate every row at the same grid of times: their time
        // conditioning is computed once for the job (bounded: a long grid is built on the
        // caller's thread) and shared by its chunks.
        let reverseSDE = [.eulerMaruyama, .reverseDiffusion, .ancestral, .pc].contains(o.sampler)
        let table = reverseSDE && o.steps <= Self.maxTableSteps
            ? model.network.timeTable(ReverseSDESampler.grid(model.sde, o), maxBytes: Self.maxTableBytes) : nil
        let size: Int
        let adaptive = o.sampler == .ode && o.method == .rk45
        let perStep: Int
        switch o.sampler {
        case .pc: perStep = 1 + o.correctorSteps
        case .ode: perStep = o.method == .rk4 ? 4 : o.method == .heun ? 2 : 1
        case .dpmSolver: perStep = o.order
        default: perStep = 1
        }
        let evaluations = adaptive ? Self.adaptiveEvaluations : o.steps * perStep
        let costLimit = Self.costLimit(model.network, evaluations: evaluations)
        if o.corrector == .langevin {
            size = o.n  // Langevin's step couples all of the request's samples: one chunk holds them all.
        } else if adaptive {
            // Rows keep their own times: small chunks balance workers (see likelihood).
            size = chunkRows(o.n, limit: Swift.min(8, costLimit))
        } else if table != nil {
            // With the conditioning shared, chunk size costs nothing: keep each chunk to about
            // `chunkEvaluations` row evaluations, so a small request never waits long for a worker.
            let limit = Swift.max(1, Self.chunkEvaluations / Swift.max(1, evaluations) / BLAS.rowGroup) * BLAS.rowGroup
            size = chunkRows(o.n, limit: Swift.min(limit, costLimit))
        } else {
            size = chunkRows(o.n, limit: costLimit)
        }
        let chunks = (o.n + size - 1) / size
        return PreparedJob(chunks: chunks, body: { chunk, control throws(SamplingError) in
            let first = chunk * size, rows = Swift.min(size, o.n - first)
            try Self.sampleChunk(model, o, table: table, first: first, rows: rows, control: control,
                                 samples: samples, nfe: nfe, logLikelihood: logLikelihood)
        }, finish: {
            let ll = o.logLikelihood ? logLikelihood.array : nil
            return SampleResult(seed: o.seed, samples: samples.array, nfe: nfe.array, logLikelihood: ll,
                                bitsPerDim: ll.map { $0.map { -$0 / (Double(d) * M_LN2) } })
        })
    }

    private static func sampleChunk(_ model: ScoreModel, _ o: ResolvedSampleOptions, table: TimeTable?, first: Int, rows: Int,
                                    control: JobControl, samples: JobOutput<Float>, nfe: JobOutput<Int>,
                                    logLikelihood: JobOutput<Double>) throws(SamplingError) {
        let sde = model.sde, d = model.data.dimension
        let state = ChunkState(network: model.network, rows: rows, table: table)
        func startFromPriorOrLatents() {
            if let latents = o.latents {
                for i in 0..<(rows * d) { state.x[i] = latents[first * d + i] }
            } else {
                state.drawPrior(sde: sde, seed: o.seed) { o.offset + UInt64(first + $0) }
            }
        }
        var counts = [Int](repeating: 0, count: rows)
        switch o.sampler {
        case .eulerMaruyama, .reverseDiffusion, .ancestral, .pc:
            try ReverseSDESampler(sde: sde, options: o).run(state, first: first, control: control)
            counts = state.nfe
        case .dpmSolver:
            startFromPriorOrLatents()
            try DPMSolver(sde: sde, steps: o.steps, order: o.order, eps: o.eps).run(state, control: control)
            try state.checkFinite(state.x, firstSample: first, what: "sample")
            counts = state.nfe
        case .ode:
            startFromPriorOrLatents()
            let divergence = o.logLikelihood ? o.divergence : nil
            let flow = ProbabilityFlow(sde: sde, network: model.network, capacity: rows, divergence: divergence,
                                       seed: o.seed, probeIndex: { o.offset + UInt64(first + $0) })
            let w = flow.width
            let y = UnsafeMutablePointer<Double>.allocate(capacity: rows * w)
            defer { y.deallocate() }
            for r in 0..<rows {
                for j in 0..<d { y[r * w + j] = state.x[r * d + j] }
                if divergence != nil { y[r * w + d] = 0 }
            }
            if o.method == .rk45 {
                try ODESolver.rk45(flow, y: y, rows: rows, from: sde.T, to: o.eps, rtol: o.rtol, atol: o.atol,
                                   control: control, firstSample: first)
            } else {
                try ODESolver.fixed(flow, method: o.method, y: y, rows: rows, from: sde.T, to: o.eps,
                                    steps: o.steps, control: control)
            }
            for r in 0..<rows {
                if divergence != nil {
                    // log p_eps(x) = log π(x_T) − ℓ(eps), with ℓ(T) = 0 (see ProbabilityFlow).
                    var norm = 0.0
                    for j in 0..<d { norm += state.x[r * d + j] * state.x[r * d + j] }
                    let ll = sde.priorLogDensity(squaredNorm: norm, dimension: d) - y[r * w + d] - model.data.logAbsScale
                    guard ll.isFinite else { throw .nonFinite("the log-likelihood of sample \(first + r) is not finite") }
                    logLikelihood.buffer[first + r] = ll
                }
                for j in 0..<d { state.x[r * d + j] = y[r * w + j] }
            }
            counts = flow.nfe
            if o.denoise {
                // One Tweedie step: E[x_0 | x_eps] = (x + σ_eps² s(x, eps)) / a_eps.
                for r in 0..<rows { state.times[r] = o.eps }
                state.evaluate(state.x, count: rows)
                let a = sde.meanCoefficient(o.eps), s = sde.marginalStd(o.eps)
                for i in 0..<(rows * d) { state.x[i] = (state.x[i] + s * s * Double(state.score[i])) / a }
                for r in 0..<rows { counts[r] += 1 }
            }
            try state.checkFinite(state.x, firstSample: first, what: "sample")
        }
        let data = model.data
        for r in 0..<rows {
            for j in 0..<d {
                let v = Float(state.x[r * d + j] * data.scale[j] + data.shift[j])
                guard v.isFinite else { throw .nonFinite("sample \(first + r) is outside the Float32 range") }
                samples.buffer[(first + r) * d + j] = v
            }
            nfe.buffer[first + r] = counts[r]
        }
    }

    private func prepareLikelihood(_ model: ScoreModel, _ options: LikelihoodOptions) throws(SamplingError) -> PreparedJob<LikelihoodResult> {
        let (divergence, eps) = try options.resolved(for: model)
        let d = model.data.dimension, n = options.x.count / d
        let draws = Swift.max(1, options.dequantize)
        let ll = JobOutput<Double>(count: n, initial: 0)
        let latents = JobOutput<Double>(count: n * d, initial: 0)
        let nfe = JobOutput<Int>(count: n, initial: 0)
        // Adaptive rk45 steps make rows finish at different times: small chunks balance
        // the workers, and with a time per row there is no shared time embedding to lose.
        let tangents = divergence.estimator == .exact ? d : divergence.probes
        let size = chunkRows(n, limit: Swift.min(8, Self.costLimit(model.network,
                                                                   evaluations: Self.adaptiveEvaluations * (1 + tangents))))
        return PreparedJob(chunks: (n + size - 1) / size, body: { chunk, control throws(SamplingError) in
            let first = chunk * size, rows = Swift.min(size, n - first)
            let flow = ProbabilityFlow(sde: model.sde, network: model.network, capacity: rows, divergence: divergence,
                                       seed: options.seed, probeIndex: { UInt64(first + $0) })
            let w = flow.width
            let y = UnsafeMutablePointer<Double>.allocate(capacity: rows * w)
            var u = [Double](repeating: 0, count: d)
            defer { y.deallocate() }
            for draw in 0..<draws {
                for r in 0..<rows {
                    if options.dequantize > 0 {
                        u.withUnsafeMutableBufferPointer {
                            Noise.uniform(NoiseKey(seed: options.seed, index: UInt64(first + r), step: UInt32(draw),
                                                   stream: .dequantize), into: $0)
                        }
                    }
                    for j in 0..<d {
                        let x = options.x[(first + r) * d + j] + (options.dequantize > 0 ? u[j] : 0)
                        y[r * w + j] = (x - model.data.shift[j]) / model.data.scale[j]
                    }
                    y[r * w + d] = 0
                }
                try ODESolver.rk45(flow, y: y, rows: rows, from: eps, to: model.sde.T, rtol: options.rtol,
                                   atol: options.atol, control: control, firstSample: first)
                for r in 0..<rows {
                    var norm = 0.0
                    for j in 0..<d { norm += y[r * w + j] * y[r * w + j] }
                    // log p_eps(x) = log π(z) + ∫_eps^T ∇·f̃ dt, then the scaler's Jacobian.
                    let value = model.sde.priorLogDensity(squaredNorm: norm, dimension: d) + y[r * w + d]
                        - model.data.logAbsScale
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

    private func prepareEncode(_ model: ScoreModel, _ options: EncodeOptions) throws(SamplingError) -> PreparedJob<EncodeResult> {
        let d = model.data.dimension
        let eps = try options.resolved(for: model)
        let n = options.x.count / d
        let latents = JobOutput<Double>(count: n * d, initial: 0)
        let nfe = JobOutput<Int>(count: n, initial: 0)
        let size = chunkSize
        return PreparedJob(chunks: (n + size - 1) / size, body: { chunk, control throws(SamplingError) in
            let first = chunk * size, rows = Swift.min(size, n - first)
            let flow = ProbabilityFlow(sde: model.sde, network: model.network, capacity: rows, divergence: nil)
            let y = UnsafeMutablePointer<Double>.allocate(capacity: rows * d)
            defer { y.deallocate() }
            for i in 0..<(rows * d) {
                let j = i % d
                y[i] = (options.x[first * d + i] - model.data.shift[j]) / model.data.scale[j]
            }
            try ODESolver.rk45(flow, y: y, rows: rows, from: eps, to: model.sde.T, rtol: options.rtol,
                               atol: options.atol, control: control, firstSample: first)
            for i in 0..<(rows * d) { latents.buffer[first * d + i] = y[i] }
            for r in 0..<rows { nfe.buffer[first + r] = flow.nfe[r] }
        }, finish: { EncodeResult(latents: latents.array, nfe: nfe.array) })
    }
}
