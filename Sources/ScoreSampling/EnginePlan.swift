/// A job: its chunks and how to assemble the answer once they have run.
public struct PreparedJob<T: Sendable>: Sendable {
    let chunks: Int
    let body: @Sendable (Int, JobControl) throws(SamplingError) -> Void
    let finish: @Sendable () -> T
}

/// A request resolved for a model, which the engine can run.
public protocol EnginePlan: Sendable {
    associatedtype Output: Sendable
    /// Work units for admission: rows × network evaluations (tangents included).
    var cost: Int { get }
    /// Rows × network evaluations the job nominally makes, as its progress counts them
    /// (tangents not counted; an adaptive solver's nominal count): the whole of a
    /// progress bar.
    var nominalEvaluations: Int { get }
    /// Rows of the answer (samples or points), for per-row step counts.
    var rows: Int { get }
    /// The job's chunks on `engine`.
    func job(on engine: SamplingEngine) -> PreparedJob<Output>
}

extension SamplePlan: EnginePlan {
    public func job(on engine: SamplingEngine) -> PreparedJob<SampleResult> { engine.prepareSample(self) }
    public var nominalEvaluations: Int { n.multipliedReportingOverflow(by: sampler.evaluationsPerSample).partialValue }
    public var rows: Int { n }
}

extension LikelihoodPlan: EnginePlan {
    public func job(on engine: SamplingEngine) -> PreparedJob<LikelihoodResult> { engine.prepareLikelihood(self) }
    public var nominalEvaluations: Int { count * ODESolver.nominalAdaptiveEvaluations * Swift.max(1, dequantize) }
    public var rows: Int { count }
}

extension EncodePlan: EnginePlan {
    public func job(on engine: SamplingEngine) -> PreparedJob<EncodeResult> { engine.prepareEncode(self) }
    public var nominalEvaluations: Int { count * ODESolver.nominalAdaptiveEvaluations }
    public var rows: Int { count }
}

extension ScorePlan: EnginePlan {
    public func job(on engine: SamplingEngine) -> PreparedJob<ScoreResult> { engine.prepareScore(self) }
    public var nominalEvaluations: Int { count }
    public var rows: Int { count }
}
