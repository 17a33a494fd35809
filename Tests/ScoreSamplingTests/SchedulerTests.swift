import Dispatch
import Foundation
import Synchronization
import Testing
import ScoreSampling

@Suite("Scheduler")
struct SchedulerTests {
    /// A stopped job leaves the queue at its next turn: its 1,000 chunks not yet started
    /// are dropped, not taken one per round-robin turn between another job's slow chunks
    /// (which would hold its client's admitted work for the other job's whole run).
    /// Counted in the other job's chunks, not in seconds, so a busy machine cannot fail it.
    @Test func stoppedJobsChunksAreDropped() async throws {
        let scheduler = Scheduler(width: 1)
        let slowRan = Atomic<Int>(0)
        let slowDone = DispatchSemaphore(value: 0)
        // 40 chunks of 10 ms.
        scheduler.submit(chunks: 40, { _ in usleep(10_000); slowRan.add(1, ordering: .relaxed) }) { slowDone.signal() }
        let stopped = Atomic<Bool>(false)
        let ran = Atomic<Int>(0)
        let slowRanWhenDropped = Atomic<Int>(-1)
        let cancelledDone = DispatchSemaphore(value: 0)
        scheduler.submit(chunks: 1000, { _ in ran.add(1, ordering: .relaxed) },
                         isStopped: { stopped.load(ordering: .relaxed) }) {
            slowRanWhenDropped.store(slowRan.load(ordering: .relaxed), ordering: .relaxed)
            cancelledDone.signal()
        }
        stopped.store(true, ordering: .relaxed)
        let finished = await Task.detached { cancelledDone.wait(timeout: .now() + 30) }.value
        #expect(finished == .success, "the stopped job never completed")
        // Round robin without dropping would complete it after all 40 slow chunks.
        #expect(slowRanWhenDropped.load(ordering: .relaxed) <= 3,
                "the stopped job completed after \(slowRanWhenDropped.load(ordering: .relaxed)) of the other job's chunks")
        #expect(ran.load(ordering: .relaxed) <= 1, "\(ran.load(ordering: .relaxed)) chunks of a stopped job ran")
        // The other job still runs every chunk.
        #expect(await Task.detached { slowDone.wait(timeout: .now() + 30) }.value == .success)
        #expect(slowRan.load(ordering: .relaxed) == 40)
    }
}
