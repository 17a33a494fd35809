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
    /// The job's chunks on `engine`.
    func job(on engine: SamplingEngine) -> PreparedJob<Output>
}

extension SamplePlan: EnginePlan {
    public func job(on engine: SamplingEngine) -> PreparedJob<SampleResult> { engine.prepareSample(self) }
}

extension LikelihoodPlan: EnginePlan {
    public func job(on engine: SamplingEngine) -> PreparedJob<LikelihoodResult> { engine.prepareLikelihood(self) }
}

extension EncodePlan: EnginePlan {
    public func job(on engine: SamplingEngine) -> PreparedJob<EncodeResult> { engine.prepareEncode(self) }
}

extension ScorePlan: EnginePlan {
    public func job(on engine: SamplingEngine) -> PreparedJob<ScoreResult> { engine.prepareScore(self) }
}
