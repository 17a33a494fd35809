import Dispatch
import Foundation
import ScoreCore

/// What OpenBLAS `sgemm` achieves on a network's own GEMM shapes: the ceiling for a
/// sampler whose every FLOP went through BLAS with no other work in between.
public enum Roofline {
    /// GFLOP/s of `sgemm` over one pass of `shapes` (each `rows × n × k`), on `threads`
    /// threads at once, each with its own buffers (as the engine's workers run).
    /// Runs about `seconds` of wall time after a short warm-up.
    public static func gflops(shapes: [GEMMShape], rows: Int, threads: Int, seconds: Double = 0.4) -> Double {
        BLAS.configure()
        let passFLOPs = shapes.reduce(0) { $0 + $1.flops(rows: rows) }
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: threads)
        counts.initialize(repeating: 0)
        defer { counts.deallocate() }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let start = DispatchTime.now().uptimeNanoseconds
        nonisolated(unsafe) let slots = counts
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            let maxN = shapes.map(\.n).max() ?? 1, maxK = shapes.map(\.k).max() ?? 1
            let a = UnsafeMutablePointer<Float>.allocate(capacity: rows * maxK)
            let w = UnsafeMutablePointer<Float>.allocate(capacity: maxN * maxK)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: rows * maxN)
            defer { a.deallocate(); w.deallocate(); c.deallocate() }
            for i in 0..<(rows * maxK) { a[i] = Float(i % 7) * 0.01 }
            for i in 0..<(maxN * maxK) { w[i] = Float(i % 5) * 0.01 }
            c.initialize(repeating: 0, count: rows * maxN)
            var passes = 0
            repeat {
                for s in shapes {
                    BLAS.linear(m: rows, n: s.n, k: s.k, a: a, weight: w, beta: 1, c: c)
                }
                passes += 1
            } while DispatchTime.now().uptimeNanoseconds < deadline
            slots[worker] = passes
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Double(counts.reduce(0, +)) * passFLOPs / elapsed / 1e9
    }
}
