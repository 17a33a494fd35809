import Dispatch
import ScoreCore

/// score_sde's `langevin` corrector, whose step size couples every row of the request:
/// ε = 2α(snr·‖z‖/‖g‖)² with the norms averaged over all n samples. The request's rows
/// are cut into sub-chunks of a fixed size (whole row groups, never dependent on the
/// thread count) that run in parallel between the couplings: per corrector step, every
/// sub-chunk evaluates its scores and each row's norms, one reduction adds the norms in
/// row order (as a single loop over the rows would), then every sub-chunk takes its
/// step; predictor steps run in parallel as they are. The answer is bit-identical for
/// any thread count and to one chunk holding every row.
extension ReverseSDE {
    /// Sub-chunks a request is cut into, at most.
    static let coupledParts = 16

    func runCoupled(_ chunk: SampleChunk) throws(SamplingError) {
        let state = chunk.state, network = state.network
        let d = state.dimension, n = state.rows
        let group = Swift.max(1, network.rowGroup)
        let size = Swift.max(group, ((n + Self.coupledParts - 1) / Self.coupledParts + group - 1) / group * group)
        let parts = (n + size - 1) / size
        let subs = (0..<parts).map { p -> ChunkState in
            let rows = Swift.min(size, n - p * size)
            let sub = ChunkState(network: network, rows: rows, table: state.table, stats: chunk.control.stats)
            sub.x.update(from: state.x + p * size * d, count: rows * d)
            sub.mean.update(from: state.x + p * size * d, count: rows * d)
            return sub
        }
        // Per row: ‖s‖ and ‖z‖ of the current corrector step (written by its sub-chunk).
        let gradNorms = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let noiseNorms = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { gradNorms.deallocate(); noiseNorms.deallocate() }
        let workers = Swift.min(parts, Swift.max(1, chunk.parallelism))
        let seed = chunk.seed
        /// Runs `body(part, first row)` for every sub-chunk on `workers` threads.
        func parallel(_ body: (Int, Int) -> Void) {
            if workers == 1 {
                for p in 0..<parts { body(p, p * size) }
                return
            }
            withoutActuallyEscaping(body) { body in
                // @unchecked Sendable: each part touches only its own sub-chunk and rows.
                struct Body: @unchecked Sendable { let run: (Int, Int) -> Void }
                let b = Body(run: body)
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    for p in stride(from: w, to: parts, by: workers) { b.run(p, p * size) }
                }
            }
        }

        for k in 0..<steps {
            try chunk.control.check()
            let t = linspaceTime(k, steps: steps, T: sde.T, eps: eps)
            let a = alpha(t)
            for sub in subs { for r in 0..<sub.rows { sub.times[r] = t } }
            for j in 0..<correctorSteps {
                parallel { p, first in
                    let sub = subs[p]
                    sub.evaluate(sub.x, count: sub.rows, gridStep: k)
                    for r in 0..<sub.rows {
                        var g = 0.0
                        for i in 0..<d { let s = Double(sub.score[r * d + i]); g += s * s }
                        gradNorms[first + r] = g.squareRoot()
                        // The row's noise waits in its `mean` (free until the corrector writes it).
                        Noise.stepNormal(Self.correctorKey(seed: seed, index: chunk.index(first + r), step: k, substep: j),
                                         into: sub.noise)
                        (sub.mean + r * d).update(from: sub.noise.baseAddress!, count: d)
                        noiseNorms[first + r] = sub.noise.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    }
                }
                // score_sde: the norms' means over the request; a zero score norm means no move.
                var gradNorm = 0.0, noiseNorm = 0.0
                for r in 0..<n {
                    gradNorm += gradNorms[r]
                    noiseNorm += noiseNorms[r]
                }
                gradNorm /= Double(n)
                noiseNorm /= Double(n)
                let ratio = gradNorm > 0 ? snr * noiseNorm / gradNorm : 0
                let epsilon = 2 * a * ratio * ratio
                parallel { p, first in
                    let sub = subs[p]
                    applyCorrector(sub, epsilon: epsilon) { UnsafePointer(sub.mean + $0 * d) }
                }
            }
            parallel { p, first in
                predict(subs[p], t: t, step: k, seed: seed) { chunk.index(first + $0) }
            }
        }
        for (p, sub) in subs.enumerated() {
            (state.x + p * size * d).update(from: denoise ? sub.mean : sub.x, count: sub.rows * d)
            for r in 0..<sub.rows { state.nfe[p * size + r] = sub.nfe[r] }
        }
    }
}
