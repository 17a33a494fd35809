import Dispatch
import Foundation
import Synchronization
import Testing
import ScoreSampling

@Suite("Scheduler")
struct SchedulerTests {
    /// A stopped job leaves the queue at its next turn: its 1,000 chunks not yet started
    /// are dropped, not taken one per round-robin turn between another job's chunks
    /// (which would hold its client's admitted work for the other job's whole run).
    /// Counted in the other job's chunks, not in seconds, so a busy machine cannot fail
    /// it; completions are awaited, never waited on a thread (the pool is shared).
    @Test func stoppedJobsChunksAreDropped() async throws {
        let scheduler = Scheduler(width: 1)
        let slowRan = Atomic<Int>(0)
        let stopped = Atomic<Bool>(false)
        let ran = Atomic<Int>(0)
        let (slowRanWhenDropped, slowTotal) = await withCheckedContinuation { (done: CheckedContinuation<(Int, Int), Never>) in
            let dropped = Atomic<Int>(-1)
            let remaining = Atomic<Int>(2)
            @Sendable func finish() {
                if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                    done.resume(returning: (dropped.load(ordering: .relaxed), slowRan.load(ordering: .relaxed)))
                }
            }
            // 40 chunks of 1 ms of the other job.
            scheduler.submit(chunks: 40, { _ in usleep(1_000); slowRan.add(1, ordering: .relaxed) }) { finish() }
            scheduler.submit(chunks: 1000, { _ in ran.add(1, ordering: .relaxed) },
                             isStopped: { stopped.load(ordering: .relaxed) }) {
                dropped.store(slowRan.load(ordering: .relaxed), ordering: .relaxed)
                finish()
            }
            stopped.store(true, ordering: .relaxed)
        }
        // Round robin without dropping would complete it after all 40 of the other chunks.
        #expect(slowRanWhenDropped <= 3, "the stopped job completed after \(slowRanWhenDropped) of the other job's chunks")
        #expect(ran.load(ordering: .relaxed) <= 1, "\(ran.load(ordering: .relaxed)) chunks of a stopped job ran")
        #expect(slowTotal == 40, "the other job ran \(slowTotal) of its 40 chunks")
    }
}
