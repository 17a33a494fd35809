/// Why a sampling, likelihood or encoding job did not produce an answer.
public enum SamplingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A request field is out of range or does not fit the model.
    case invalidArgument(field: String, message: String)
    /// The computation produced a non-finite value.
    case nonFinite(String)
    /// The job's cancellation token fired (a client went away).
    case cancelled
    /// The job's deadline passed.
    case deadlineExceeded

    public var description: String {
        switch self {
        case .invalidArgument(let field, let message): "\(field): \(message)"
        case .nonFinite(let m): m
        case .cancelled: "cancelled"
        case .deadlineExceeded: "deadline exceeded"
        }
    }
}
