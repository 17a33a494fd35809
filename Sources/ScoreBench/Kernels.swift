import Dispatch
import Foundation
import ScoreCore
import ScoreJSON
import ScoreKernels
import ScoreSampling

/// Single-thread timings (fastest of many calls) of the hot kernels, each also expressed relative to an `sgemm`
/// of a fixed shape timed in the same run: the relative figure does not move with the
/// machine's speed or load, so it can be checked against stored thresholds.
public enum Kernels {
    public struct Timing: Sendable {
        public let name: String
        public let microseconds: Double
        /// `microseconds` over the same run's reference `sgemm` time.
        public let relative: Double
    }

    /// The reference: one 256 × 128 × 128 `sgemm` (as a linear layer), in microseconds.
    public static func referenceMicroseconds() -> Double {
        BLAS.configure()
        let a = [Float](repeating: 0.01, count: 256 * 128), w = [Float](repeating: 0.02, count: 128 * 128)
        var c = [Float](repeating: 0, count: 256 * 128)
        return fastest {
            c.withUnsafeMutableBufferPointer { cp in
                BLAS.linear(m: 256, n: 128, k: 128, a: a, weight: w, beta: 0, c: cp.baseAddress!)
            }
        }
    }

    /// The reference's product through `PackedLinear` (the MLP's GEMMs): a relative
    /// figure below 1 is faster than OpenBLAS.
    public static func gemm() -> [Timing] {
        let reference = referenceMicroseconds(), packed = packedLinearMicroseconds()
        return [Timing(name: "packed-linear-256x128x128", microseconds: packed, relative: packed / reference)]
    }

    static func packedLinearMicroseconds() -> Double {
        let a = [Float](repeating: 0.01, count: 256 * 128), w = [Float](repeating: 0.02, count: 128 * 128)
        var c = [Float](repeating: 0, count: 256 * 128)
        let layer = w.withUnsafeBufferPointer { PackedLinear(weight: $0.baseAddress!, outputs: 128, inputs: 128) }
        return fastest {
            c.withUnsafeMutableBufferPointer { cp in
                a.withUnsafeBufferPointer { layer.apply(rows: 256, a: $0.baseAddress!, lda: 128, c: cp.baseAddress!, ldc: 128) }
            }
        }
    }

    /// The fastest of enough calls of `body` to fill ~`seconds`, in microseconds: the
    /// minimum is the steadiest figure on a shared machine (noise only adds time).
    static func fastest(seconds: Double = 0.5, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var times: [Double] = []
        let end = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        repeat {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e3)
        } while DispatchTime.now().uptimeNanoseconds < end || times.count < 5
        return times.min()!
    }

    /// network forward (256 rows), JVP (64 rows × D tangents), one euler_maruyama step
    /// (32 trajectories, from a 10-step request).
    public static func run(model: ScoreModel) throws -> [Timing] {
        let reference = referenceMicroseconds()
        let net = model.network, d = net.dimension
        var rng = SplitMix64(seed: 3)
        var timings: [(String, Double)] = []

        let rows = 256
        let x = (0..<(rows * d)).map { _ in Float(rng.normal()) }
        let t = (0..<rows).map { Double($0 % 16 + 1) / 17 }
        var out = [Float](repeating: 0, count: rows * d)
        let ws = ScoreWorkspace(network: net, rows: rows, tangents: net.supportsJVP ? d : 0)
        timings.append(("forward-256", fastest {
            out.withUnsafeMutableBufferPointer { ws.score(x, times: t, rows: rows, into: $0.baseAddress!) }
        }))
        if net.supportsJVP {
            let jrows = 64
            let v = (0..<(jrows * d * d)).map { i in (i / d) % d == i % d ? Float(1) : 0 }  // basis vectors
            var jv = [Float](repeating: 0, count: jrows * d * d)
            timings.append(("jvp-64x\(d)", fastest {
                out.withUnsafeMutableBufferPointer { o in
                    jv.withUnsafeMutableBufferPointer { j in
                        ws.jvp(x, times: t, rows: jrows, tangents: d, v: v, score: o.baseAddress!, jv: j.baseAddress!)
                    }
                }
            }))
        }
        let engine = SamplingEngine(threads: 1)
        var step = SampleOptions()
        step.n = 32; step.seed = 1; step.sampler = "euler_maruyama"; step.steps = 10
        timings.append(("em-step-32", try fastest { _ = try engine.sampleBlocking(model, step) } / 10))

        return timings.map { Timing(name: $0.0, microseconds: $0.1, relative: $0.1 / reference) }
    }

    /// JSON encode and decode of 100,000 floats (an answer's samples).
    public static func json() throws -> [Timing] {
        let reference = referenceMicroseconds()
        var rng = SplitMix64(seed: 5)
        let document = JSONValue.array((0..<100_000).map { _ in .number(Double(Float(rng.normal()))) })
        let text = try document.encoded()
        let timings = [("json-encode-100k", try fastest { _ = try document.encoded() }),
                       ("json-decode-100k", try fastest { _ = try JSONValue.parse(text) })]
        return timings.map { Timing(name: $0.0, microseconds: $0.1, relative: $0.1 / reference) }
    }
}
