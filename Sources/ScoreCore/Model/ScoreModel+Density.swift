extension ScoreModel {
    /// log p₀ at a data-space point (the model-space density plus the data map's
    /// Jacobian), for a model whose network knows its density exactly (`gmm`); nil for the others.
    public var exactDataLogDensity: (@Sendable ([Double]) -> Double)? {
        guard let mixture = network as? GaussianMixture else { return nil }
        let spec = data
        return { x in
            var point = x
            spec.toModel(&point)
            return mixture.logDensity(point, t: 0) + x.withUnsafeBufferPointer { spec.logAbsJacobian($0.baseAddress!) }
        }
    }
}
