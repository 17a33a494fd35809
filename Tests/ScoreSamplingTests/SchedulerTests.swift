import Dispatch
import Foundation
import Synchronization
import Testing
import ScoreSampling

@Suite("Scheduler")
struct SchedulerTests {
    /// A stopped job leaves the queue at its next turn: its 1,000 chunks not yet started
    /// are dropped, not taken one per round-robin turn behind another job's slow chunks
    /// (which would hold its client's admitted work for the other job's whole run).
    @Test func stoppedJobsChunksAreDropped() async throws {
        let scheduler = Scheduler(width: 1)
        let slowDone = DispatchSemaphore(value: 0)
        // 40 chunks of 10 ms: 400 ms of other work.
        scheduler.submit(chunks: 40, { _ in usleep(10_000) }) { slowDone.signal() }
        let stopped = Atomic<Bool>(false)
        let ran = Atomic<Int>(0)
        let cancelledDone = DispatchSemaphore(value: 0)
        scheduler.submit(chunks: 1000, { _ in _ = ran.add(1, ordering: .relaxed) },
                         isStopped: { stopped.load(ordering: .relaxed) }) { cancelledDone.signal() }
        stopped.store(true, ordering: .relaxed)
        let start = DispatchTime.now()
        let finished = await Task.detached { cancelledDone.wait(timeout: .now() + 5) }.value
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        #expect(finished == .success, "the stopped job never completed")
        #expect(seconds < 0.1, "the stopped job took \(seconds) s to leave the queue")
        #expect(ran.load(ordering: .relaxed) <= 1, "\(ran.load(ordering: .relaxed)) chunks of a stopped job ran")
        // The other job still runs every chunk.
        #expect(await Task.detached { slowDone.wait(timeout: .now() + 5) }.value == .success)
    }
}
