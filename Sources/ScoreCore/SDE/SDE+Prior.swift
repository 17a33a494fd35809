extension SDE {
    /// Draws x(T) ~ π = N(0, σ_prior² I) for sample `index` of `seed` into `out`
    /// (model space). The draw is a pure function of (seed, index), whatever the batch.
    public func samplePrior(seed: UInt64, index: UInt64, into out: UnsafeMutableBufferPointer<Double>) {
        Noise.normal(NoiseKey(seed: seed, index: index, step: 0, stream: .prior), into: out)
        let s = priorStd
        for i in out.indices { out[i] *= s }
    }
}
