import ScoreCore

/// Where each tensor of a residual MLP sits in one flat Float32 parameter vector, in
/// the order `MLP` stores them (the L time projections stacked into [L·H × E]).
public struct MLPLayout: Sendable, Equatable {
    public let dimension: Int, hidden: Int, blocks: Int, embedDim: Int
    public let fourier: Int, embedW: Int, embedB: Int, inW: Int, inB: Int
    public let tembW: Int, tembB: Int, denseW: Int, denseB: Int, outW: Int, outB: Int
    /// Total number of parameters (including the fixed Fourier frequencies).
    public let count: Int

    public init(dimension d: Int, hidden h: Int, blocks l: Int, embedDim e: Int) {
        precondition(d > 0 && h > 0 && l >= 0 && e >= 2 && e % 2 == 0)
        dimension = d; hidden = h; blocks = l; embedDim = e
        var n = 0
        func take(_ k: Int) -> Int { defer { n += k }; return n }
        fourier = take(e / 2); embedW = take(e * e); embedB = take(e)
        inW = take(h * d); inB = take(h)
        tembW = take(l * h * e); tembB = take(l * h)
        denseW = take(l * h * h); denseB = take(l * h)
        outW = take(d * h); outB = take(d)
        count = n
    }

    /// The tensors, named as PyTorch's `state_dict()` names them.
    public func entries(_ p: [Float]) -> [SafeTensors.Entry] {
        let (d, h, l, e) = (dimension, hidden, blocks, embedDim)
        func slice(_ at: Int, _ n: Int) -> [Float] { Array(p[at..<(at + n)]) }
        var out: [SafeTensors.Entry] = [
            .init(name: "embed.0.W", shape: [e / 2], values: slice(fourier, e / 2)),
            .init(name: "embed.1.weight", shape: [e, e], values: slice(embedW, e * e)),
            .init(name: "embed.1.bias", shape: [e], values: slice(embedB, e)),
            .init(name: "proj_in.weight", shape: [h, d], values: slice(inW, h * d)),
            .init(name: "proj_in.bias", shape: [h], values: slice(inB, h)),
            .init(name: "proj_out.weight", shape: [d, h], values: slice(outW, d * h)),
            .init(name: "proj_out.bias", shape: [d], values: slice(outB, d)),
        ]
        for i in 0..<l {
            out += [
                .init(name: "blocks.\(i).temb.weight", shape: [h, e], values: slice(tembW + i * h * e, h * e)),
                .init(name: "blocks.\(i).temb.bias", shape: [h], values: slice(tembB + i * h, h)),
                .init(name: "blocks.\(i).dense.weight", shape: [h, h], values: slice(denseW + i * h * h, h * h)),
                .init(name: "blocks.\(i).dense.bias", shape: [h], values: slice(denseB + i * h, h)),
            ]
        }
        return out
    }

    /// The parameters as an inference network.
    public func network(_ p: [Float], sde: SDE) -> MLP {
        let (d, h, l, e) = (dimension, hidden, blocks, embedDim)
        func slice(_ at: Int, _ n: Int) -> [Float] { Array(p[at..<(at + n)]) }
        return MLP(sde: sde, dimension: d, hidden: h, blocks: l, embedDim: e, tensors: MLP.Tensors(
            fourier: slice(fourier, e / 2), embedWeight: slice(embedW, e * e), embedBias: slice(embedB, e),
            inWeight: slice(inW, h * d), inBias: slice(inB, h),
            tembWeight: (0..<l).map { slice(tembW + $0 * h * e, h * e) },
            tembBias: (0..<l).map { slice(tembB + $0 * h, h) },
            denseWeight: (0..<l).map { slice(denseW + $0 * h * h, h * h) },
            denseBias: (0..<l).map { slice(denseB + $0 * h, h) },
            outWeight: slice(outW, d * h), outBias: slice(outB, d)))
    }

    /// PyTorch's default initialisation (`nn.Linear`: weights and biases uniform in
    /// ±1/√fan_in) and Gaussian Fourier frequencies N(0, fourierScale²), from the
    /// counter-based RNG keyed by `seed`.
    public func initialParameters(seed: UInt64, fourierScale: Double = 16) -> [Float] {
        var p = [Float](repeating: 0, count: count)
        var u = [Double](repeating: 0, count: count)
        u.withUnsafeMutableBufferPointer { Noise.uniform(NoiseKey(seed: seed, index: 0, step: 0, stream: .initialisation), into: $0) }
        func uniform(_ at: Int, _ n: Int, fanIn: Int) {
            let bound = 1 / Double(fanIn).squareRoot()
            for i in at..<(at + n) { p[i] = Float((2 * u[i] - 1) * bound) }
        }
        let (d, h, l, e) = (dimension, hidden, blocks, embedDim)
        var z = [Double](repeating: 0, count: e / 2)
        z.withUnsafeMutableBufferPointer { Noise.normal(NoiseKey(seed: seed, index: 1, step: 0, stream: .initialisation), into: $0) }
        for j in 0..<(e / 2) { p[fourier + j] = Float(z[j] * fourierScale) }
        uniform(embedW, e * e, fanIn: e); uniform(embedB, e, fanIn: e)
        uniform(inW, h * d, fanIn: d); uniform(inB, h, fanIn: d)
        uniform(tembW, l * h * e, fanIn: e); uniform(tembB, l * h, fanIn: e)
        uniform(denseW, l * h * h, fanIn: h); uniform(denseB, l * h, fanIn: h)
        uniform(outW, d * h, fanIn: h); uniform(outB, d, fanIn: h)
        return p
    }
}

extension NoiseStream {
    /// Parameter initialisation draws.
    public static let initialisation = NoiseStream(rawValue: 40)
    /// Training draws: minibatch indices, times, noise, projections.
    public static let trainingIndex = NoiseStream(rawValue: 41)
    public static let trainingTime = NoiseStream(rawValue: 42)
    public static let trainingNoise = NoiseStream(rawValue: 43)
    public static let trainingProjection = NoiseStream(rawValue: 44)
}
