import ScoreCore

/// The training objective.
public enum TrainingObjective: String, Sendable, CaseIterable {
    /// Denoising score matching, E_t E_x0 E_z |σ_t s(a_t x0 + σ_t z, t) + z|², t drawn as
    /// `timeWeighting` says (uniform on [eps, 1] by default).
    case dsm
    /// Sliced score matching at the perturbed points, with σ_t² weighting:
    /// E [ σ_t² vᵀ(∂s/∂x)v + ½ σ_t² (vᵀs)² ], the Jacobian term by a central finite
    /// difference along v (Pang et al. 2020).
    case ssm
}

/// How to train; every field is recorded in the weights' metadata.
public struct TrainingOptions: Sendable, Equatable {
    public var objective: TrainingObjective = .dsm
    public var steps = 20_000
    public var batchSize = 512
    public var learningRate = 1e-3
    public var warmup = 1_000
    /// Global gradient-norm clip (0: none).
    public var gradientClip = 1.0
    public var emaDecay = 0.999
    public var seed: UInt64 = 0
    /// Smallest training time.
    public var eps = 1e-5
    /// Rows per gradient sub-batch: the batch is cut into sub-batches of this size that
    /// run in parallel and are summed in a fixed order, so results do not depend on threads.
    public var subBatch = 128
    /// SSM projection distribution.
    public var projections: SSMProjection = .rademacher
    /// Uniform dequantization: each drawn point x0 gets x0 + u·width, u ~ U[0, 1)^D
    /// (width = one integer level in model space, 1/scale); 0 for none. Models of
    /// integer data need it so their density is continuous, as the likelihood's
    /// dequantization assumes.
    public var dequantizeWidth = 0.0
    /// How training times are drawn and the loss weighted over t.
    public var timeWeighting: TimeWeighting = .sigma

    public init() {}
}

/// SSM's projection vectors.
public enum SSMProjection: String, Sendable, CaseIterable { case rademacher, gaussian }
