import ScoreCore

extension MLPLayout {
    /// The parameters as an inference network.
    public func network(_ p: [Float], sde: SDE) -> MLP { MLP(sde: sde, layout: self, parameters: p) }

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
    public static let trainingDequantize = NoiseStream(rawValue: 45)
}
