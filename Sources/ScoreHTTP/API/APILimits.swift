import ScoreSampling

/// Limits the API enforces before admitting work (all configurable on `serve`).
public struct APILimits: Sendable, Equatable {
    /// Largest request body in bytes (413 beyond it).
    public var maxBodyBytes = 16 << 20
    /// Largest `n` of a sampling request.
    public var maxN = 100_000
    /// Largest `steps` of a sampling request.
    public var maxSteps = 100_000
    /// Most points in `x` (likelihood, score, encode) or `latents`.
    public var maxPoints = 100_000
    /// Work admitted at once, in sample × step units (429 beyond it; a single request
    /// larger than this is a 400: it could never be served).
    public var maxWork = 500_000_000
    /// Deadline of a request without `timeout_ms`, and the largest `timeout_ms` accepted.
    public var defaultTimeoutMs = 60_000
    public var maxTimeoutMs = 600_000

    public init() {}
}

extension APILimits {
    /// The request-field table's ranges under these limits.
    public var fields: FieldLimits {
        FieldLimits(maxN: maxN, maxSteps: maxSteps, maxPoints: maxPoints, maxTimeoutMs: maxTimeoutMs,
                    defaultTimeoutMs: defaultTimeoutMs)
    }
}
