import Dispatch
import Foundation

/// Runs the chunks of many jobs on a Dispatch concurrent queue at most `width` at a
/// time. Whenever a worker frees up it takes the next chunk of the next job in
/// round-robin order, so a job of 100,000 samples does not hold back one of 10: the
/// small job's chunks start as soon as any running chunk ends.
public final class Scheduler: @unchecked Sendable {
    // @unchecked Sendable: all mutable state (jobs, cursor, running) is guarded by `lock`.

    /// Chunks that may run at once (the cores this process uses).
    public let width: Int
    private let queue = DispatchQueue(label: "scoreserve.scheduler", attributes: .concurrent)
    private let lock = NSLock()
    private var jobs: [Job] = []
    private var cursor = 0
    private var running = 0

    private final class Job {
        let chunks: Int
        var next = 0
        var finished = 0
        let body: @Sendable (Int) -> Void
        let completion: @Sendable () -> Void
        /// True once the job's remaining chunks need not run (its client left, its
        /// deadline passed, another chunk failed).
        let isStopped: @Sendable () -> Bool

        init(chunks: Int, body: @escaping @Sendable (Int) -> Void, completion: @escaping @Sendable () -> Void,
             isStopped: @escaping @Sendable () -> Bool) {
            self.chunks = chunks
            self.body = body
            self.completion = completion
            self.isStopped = isStopped
        }
    }

    /// A scheduler as wide as `width` workers (default: the active processors).
    public init(width: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.width = Swift.max(1, width)
    }

    /// Runs `body(0..<chunks)` across the workers and returns when every chunk has run
    /// (or was dropped, see `submit`).
    public func run(chunks: Int, _ body: @escaping @Sendable (Int) -> Void,
                    isStopped: @escaping @Sendable () -> Bool = { false }) async {
        guard chunks > 0 else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            submit(chunks: chunks, body, isStopped: isStopped) { continuation.resume() }
        }
    }

    /// Blocking form of `run`, for command-line tools and tests.
    public func runBlocking(chunks: Int, _ body: @escaping @Sendable (Int) -> Void,
                            isStopped: @escaping @Sendable () -> Bool = { false }) {
        guard chunks > 0 else { return }
        let done = DispatchSemaphore(value: 0)
        submit(chunks: chunks, body, isStopped: isStopped) { done.signal() }
        done.wait()
    }

    /// Queues a job's chunks and returns at once; `completion` runs (on a worker) after
    /// the last chunk. Once `isStopped` says so, the job's chunks not yet started are
    /// dropped (not run), so a cancelled job leaves the queue at its next turn instead of
    /// taking one turn per chunk behind the other jobs.
    public func submit(chunks: Int, _ body: @escaping @Sendable (Int) -> Void,
                       isStopped: @escaping @Sendable () -> Bool = { false },
                       completion: @escaping @Sendable () -> Void) {
        guard chunks > 0 else { completion(); return }
        lock.lock()
        jobs.append(Job(chunks: chunks, body: body, completion: completion, isStopped: isStopped))
        let starts = startable()
        lock.unlock()
        for _ in 0..<starts { queue.async { self.work() } }
    }

    /// How many new workers to start; call with `lock` held.
    private func startable() -> Int {
        let pending = jobs.reduce(0) { $0 + $1.chunks - $1.next }
        let n = Swift.min(width - running, pending)
        running += Swift.max(0, n)
        return Swift.max(0, n)
    }

    /// One worker: takes chunks round-robin across jobs until none is pending.
    private func work() {
        while true {
            lock.lock()
            var dropped: [Job] = []
            let next = takeChunk(dropping: &dropped)
            if next == nil { running -= 1 }
            lock.unlock()
            for job in dropped { job.completion() }
            guard let (job, index) = next else { return }
            job.body(index)
            lock.lock()
            job.finished += 1
            let complete = job.finished == job.chunks
            lock.unlock()
            if complete { job.completion() }
        }
    }

    /// The next chunk in round-robin order over jobs; call with `lock` held. Stopped
    /// jobs met on the way lose their chunks not yet started; those it completes are
    /// appended to `dropped` (their completions run after the lock is released).
    private func takeChunk(dropping dropped: inout [Job]) -> (Job, Int)? {
        guard !jobs.isEmpty else { return nil }
        // Every turn returns a chunk or removes a job.
        for _ in 0..<jobs.count {
            cursor %= jobs.count
            let job = jobs[cursor]
            if job.next < job.chunks && job.isStopped() {
                job.finished += job.chunks - job.next
                job.next = job.chunks
                jobs.remove(at: cursor)
                if job.finished == job.chunks { dropped.append(job) }
                continue
            }
            if job.next < job.chunks {
                let index = job.next
                job.next += 1
                if job.next == job.chunks { jobs.remove(at: cursor) } else { cursor += 1 }
                return (job, index)
            }
            jobs.remove(at: cursor)
        }
        return nil
    }
}
