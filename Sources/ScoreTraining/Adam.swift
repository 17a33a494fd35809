import Foundation

/// Adam (Kingma & Ba) with bias correction, linear learning-rate warm-up and global
/// gradient-norm clipping, plus an exponential moving average of the parameters.
public struct AdamState: Sendable {
    public var m: [Float]
    public var v: [Float]
    public var ema: [Float]
    public private(set) var step = 0
    let beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8

    public init(parameters: [Float]) {
        m = Array(repeating: 0, count: parameters.count)
        v = Array(repeating: 0, count: parameters.count)
        ema = parameters
    }

    /// One update of `p[range]` from `g` (clipped in place); returns the gradient's norm
    /// before clipping. Parameters outside `trainable` stay fixed.
    public mutating func update(_ p: inout [Float], gradient g: inout [Float], trainable: Range<Int>,
                                learningRate: Double, warmup: Int, clip: Double, emaDecay: Double) -> Double {
        step += 1
        var norm2 = 0.0
        for i in trainable { norm2 += Double(g[i]) * Double(g[i]) }
        let norm = norm2.squareRoot()
        if clip > 0 && norm > clip {
            let f = Float(clip / norm)
            for i in trainable { g[i] *= f }
        }
        let lr = learningRate * Swift.min(1, Double(step) / Double(Swift.max(1, warmup)))
        let c1 = 1 - Foundation.pow(beta1, Double(step)), c2 = 1 - Foundation.pow(beta2, Double(step))
        let b1 = Float(beta1), b2 = Float(beta2)
        for i in trainable {
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
            let mh = Double(m[i]) / c1, vh = Double(v[i]) / c2
            p[i] -= Float(lr * mh / (vh.squareRoot() + epsilon))
        }
        let d = Float(emaDecay)
        for i in p.indices { ema[i] = d * ema[i] + (1 - d) * p[i] }
        return norm
    }
}
