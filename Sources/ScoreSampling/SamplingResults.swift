/// Samples of one request, in data space.
public struct SampleResult: Sendable {
    /// The seed used (echoed by the API).
    public let seed: UInt64
    /// [n × D] samples in data space.
    public let samples: [Float]
    /// Network evaluations per sample.
    public let nfe: [Int]
    /// log p (nats, data space) of each sample, with `log_likelihood`.
    public let logLikelihood: [Double]?
    public let bitsPerDim: [Double]?
}

/// Log-likelihoods of data points.
public struct LikelihoodResult: Sendable {
    public let logLikelihood: [Double]
    public let bitsPerDim: [Double]
    /// [n × D] latents x(T) in model space (of the first dequantization draw).
    public let latents: [Double]
    public let nfe: [Int]
}

/// Prior latents of data points along the probability-flow ODE.
public struct EncodeResult: Sendable {
    /// [n × D] latents x(T) in model space.
    public let latents: [Double]
    public let nfe: [Int]
}

/// Scores of points: model-space scores as the network gives them.
public struct ScoreResult: Sendable {
    /// [n × D] scores.
    public let scores: [Float]
}
