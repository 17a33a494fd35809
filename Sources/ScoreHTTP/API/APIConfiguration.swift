/// Everything the API layer is configured with.
public struct APIConfiguration: Sendable {
    public var limits = APILimits()
    /// The bearer token `/v1/*` requires; nil for no authentication.
    public var apiKey: String?

    public init(limits: APILimits = APILimits(), apiKey: String? = nil) {
        self.limits = limits
        self.apiKey = apiKey
    }
}
