import ScoreCore

/// A likelihood request: points in data space and how to integrate.
public struct LikelihoodOptions: Sendable {
    /// Points in data space, [n × D].
    public var x: [Double] = []
    public var estimator: DivergenceEstimator?
    public var noise: ProbeNoise?
    public var probes: Int?
    public var rtol: Double = 1e-5
    public var atol: Double = 1e-5
    public var eps: Double?
    public var seed: UInt64 = 0
    /// Uniform dequantization draws to average (needs `data.levels`); 0 = none.
    public var dequantize: Int = 0

    public init() {}

    /// Validates the options for `model` (the engine does this too; callers that
    /// admit work first call it to answer a bad request before admission).
    public func resolved(for model: ScoreModel) throws(SamplingError) -> (divergence: DivergenceOptions, eps: Double) {
        let d = model.data.dimension
        try check(!x.isEmpty && x.count % d == 0, "x", "expected points of \(d) values each")
        try check(x.count / d <= SampleOptions.maxN, "x", "at most \(SampleOptions.maxN) points")
        if let i = x.firstIndex(where: { !$0.isFinite }) {
            throw .invalidArgument(field: "x", message: "point \(i / d) has a non-finite value")
        }
        try check(model.network.supportsJVP, "model", "the \(model.network.typeName) network has no likelihood")
        try checkTolerance(rtol, "rtol")
        try checkTolerance(atol, "atol")
        try check(seed <= UInt64(Int64.max), "seed", "must be between 0 and 2^63-1")
        try check((0...1000).contains(dequantize), "dequantize", "must be between 0 and 1000, got \(dequantize)")
        if dequantize > 0 {
            try check(model.data.levels != nil, "dequantize", "needs a model with data.levels")
        }
        let eps = self.eps ?? model.sde.likelihoodEps
        try checkEps(eps, model.sde)
        let divergence = try DivergenceOptions.resolve(estimator: estimator, noise: noise, probes: probes, dimension: d)
        return (divergence, eps)
    }
}

/// An encoding request: data-space points to prior latents along the probability-flow ODE.
public struct EncodeOptions: Sendable {
    public var x: [Double] = []
    public var rtol: Double = 1e-5
    public var atol: Double = 1e-5
    public var eps: Double?

    public init() {}

    /// Validates the options for `model` and returns the eps to use.
    public func resolved(for model: ScoreModel) throws(SamplingError) -> Double {
        let d = model.data.dimension
        try check(!x.isEmpty && x.count % d == 0, "x", "expected points of \(d) values each")
        try check(x.count / d <= SampleOptions.maxN, "x", "at most \(SampleOptions.maxN) points")
        if let i = x.firstIndex(where: { !$0.isFinite }) {
            throw .invalidArgument(field: "x", message: "point \(i / d) has a non-finite value")
        }
        try checkTolerance(rtol, "rtol")
        try checkTolerance(atol, "atol")
        let eps = self.eps ?? model.sde.likelihoodEps
        try checkEps(eps, model.sde)
        return eps
    }
}

/// A score request: data-space points and one time per point.
public struct ScoreOptions: Sendable {
    public var x: [Double] = []
    public var times: [Double] = []

    public init() {}
}
