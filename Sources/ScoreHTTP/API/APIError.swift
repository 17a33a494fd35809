import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

/// An error answer: a status, a machine-readable code and a message naming the problem.
public struct APIError: Error, Sendable {
    public let status: Int
    public let code: String
    public let message: String
    public var headers: [(String, String)] = []

    public init(status: Int, code: String, message: String, headers: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public static func invalid(_ message: String) -> APIError {
        APIError(status: 400, code: "invalid_argument", message: message)
    }

    public static func invalid(field: String, _ message: String) -> APIError {
        invalid("\(field): \(message)")
    }

    /// The error code the contract's statuses go with.
    public static func code(for status: Int) -> String {
        switch status {
        case 400: "invalid_argument"
        case 401: "unauthorized"
        case 404: "not_found"
        case 406: "not_acceptable"
        case 405: "method_not_allowed"
        case 413: "payload_too_large"
        case 415: "unsupported_media_type"
        case 422: "non_finite"
        case 429: "overloaded"
        case 503: "unavailable"
        case 504: "deadline_exceeded"
        default: "internal"
        }
    }

    /// The engine's errors as API errors.
    public init(_ error: SamplingError) {
        switch error {
        case .invalidArgument(let field, let message): self = .invalid(field: field, message)
        case .nonFinite(let message): self.init(status: 422, code: "non_finite", message: message)
        case .cancelled: self.init(status: 503, code: "unavailable", message: "the request was cancelled")
        case .deadlineExceeded:
            self.init(status: 504, code: "deadline_exceeded", message: "the request's deadline passed; its work was stopped")
        }
    }

    /// `{"error":{"code":…,"message":…}}` as a response.
    public var response: HTTPResponse {
        let body = JSONValue.object(JSONObject([
            "error": .object(JSONObject(["code": .string(code), "message": .string(message)])),
        ]))
        // Strings only: encoding cannot fail.
        let text = (try? body.encoded()) ?? #"{"error":{"code":"internal","message":"error"}}"#
        return HTTPResponse(status: status, contentType: "application/json", body: Array(text.utf8), headers: headers)
    }
}
