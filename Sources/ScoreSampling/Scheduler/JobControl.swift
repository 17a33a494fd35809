import Dispatch
import Synchronization

/// Cancels a job: set when its client goes away, read by workers between steps.
public final class CancellationToken: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

/// Counts a job's finished chunks and network evaluations, for progress bars.
public final class JobProgress: Sendable {
    private let done = Atomic<Int>(0)
    private let total = Atomic<Int>(0)
    private let firstChunkNanos = Atomic<UInt64>(0)
    /// The job's own counters; the engine's are their parent.
    private let counters = Mutex<EngineStats?>(nil)

    public init() {}

    /// Counters that count for this job and for `engine` (made once per job).
    func counters(under engine: EngineStats) -> EngineStats {
        counters.withLock { c in
            if let c { return c }
            let made = EngineStats(parent: engine)
            c = made
            return made
        }
    }

    /// Network evaluations (rows × evaluations) of this job so far.
    public var networkEvaluations: Int { counters.withLock { $0?.networkEvaluations ?? 0 } }

    func start(chunks: Int) { total.store(chunks, ordering: .relaxed); done.store(0, ordering: .relaxed) }
    func advance() { done.add(1, ordering: .relaxed) }
    /// The job ended: chunks dropped without running count as finished too.
    func complete() { done.store(total.load(ordering: .relaxed), ordering: .relaxed) }
    func chunkStarted() {
        _ = firstChunkNanos.compareExchange(expected: 0, desired: DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
    }

    /// When the job's first chunk began running (uptime nanoseconds), 0 before; the
    /// time from submission to this is the job's queue wait.
    public var firstChunkStartNanoseconds: UInt64 { firstChunkNanos.load(ordering: .relaxed) }

    /// (finished chunks, all chunks) of the running job.
    public var fraction: (done: Int, total: Int) { (done.load(ordering: .relaxed), total.load(ordering: .relaxed)) }
}

/// Counters of everything an engine has run, for metrics.
public final class EngineStats: Sendable {
    private let steps = Atomic<Int>(0)
    private let evaluations = Atomic<Int>(0)
    /// Counters that everything counted here also counts in (a job's: the engine's).
    private let parent: EngineStats?

    public init() { parent = nil }

    init(parent: EngineStats) { self.parent = parent }

    /// Network evaluations (rows × evaluations) so far, counted as they happen, so a
    /// long job shows in a rate while it runs.
    public var networkEvaluations: Int { evaluations.load(ordering: .relaxed) }
    func evaluated(rows: Int) {
        evaluations.add(rows, ordering: .relaxed)
        parent?.evaluated(rows: rows)
    }

    /// Chunk steps run so far (each running chunk adds one per time step or solver
    /// iteration): it stops growing when no job runs.
    public var stepsRun: Int { steps.load(ordering: .relaxed) }
    func step() {
        steps.add(1, ordering: .relaxed)
        parent?.step()
    }
}

/// What stops a job early: its cancellation token and its deadline. Workers call
/// `check()` between steps, so a stopped job ends within one step per chunk.
public struct JobControl: Sendable {
    public let token: CancellationToken
    /// Deadline in `DispatchTime` uptime nanoseconds; nil for none.
    public let deadline: UInt64?
    /// Set by the engine when another chunk of the same job failed.
    let failure: CancellationToken?
    /// Receives finished-chunk counts, if set.
    public let progress: JobProgress?
    /// The engine's counters, set by the engine.
    let stats: EngineStats?

    public init(token: CancellationToken = CancellationToken(), deadline: DispatchTime? = nil,
                progress: JobProgress? = nil) {
        self.token = token
        self.deadline = deadline?.uptimeNanoseconds
        self.failure = nil
        self.progress = progress
        self.stats = nil
    }

    private init(token: CancellationToken, deadlineNanoseconds: UInt64?, failure: CancellationToken,
                 progress: JobProgress?, stats: EngineStats) {
        self.token = token
        self.deadline = deadlineNanoseconds
        self.failure = failure
        self.progress = progress
        self.stats = stats
    }

    /// This control, also stopped by `failure`, counting steps in `stats`.
    func linked(to failure: CancellationToken, stats: EngineStats) -> JobControl {
        JobControl(token: token, deadlineNanoseconds: deadline, failure: failure, progress: progress, stats: stats)
    }

    /// A control with a deadline `milliseconds` from now.
    public static func timeout(milliseconds: Int, token: CancellationToken = CancellationToken()) -> JobControl {
        JobControl(token: token, deadline: .now() + .milliseconds(milliseconds))
    }

    /// Whether the job must stop (cancelled, failed elsewhere, or past its deadline),
    /// without counting a step.
    public var isStopped: Bool {
        token.isCancelled || failure?.isCancelled == true
            || deadline.map { DispatchTime.now().uptimeNanoseconds >= $0 } == true
    }

    /// Throws when the job must stop.
    @inline(__always)
    public func check() throws(SamplingError) {
        stats?.step()
        if token.isCancelled || failure?.isCancelled == true { throw .cancelled }
        if let deadline, DispatchTime.now().uptimeNanoseconds >= deadline { throw .deadlineExceeded }
    }
}
