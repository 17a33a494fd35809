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

    /// An error of a row of the error table.
    public init(_ kind: ErrorStatus, _ message: String, headers: [(String, String)] = []) {
        self.init(status: kind.status, code: kind.code, message: message, headers: headers)
    }

    /// Its row of the error table (by status).
    public var kind: ErrorStatus { .of(status: status) }

    public static func invalid(_ message: String) -> APIError {
        APIError(.invalidArgument, message)
    }

    public static func invalid(field: String, _ message: String) -> APIError {
        invalid("\(field): \(message)")
    }

    /// The error code the contract's statuses go with (`internal` for others).
    public static func code(for status: Int) -> String {
        ErrorStatus.of(status: status).code
    }

    /// The engine's errors as API errors.
    public init(_ error: SamplingError) {
        switch error {
        case .invalidArgument(let field, let message): self = .invalid(field: field, message)
        case .nonFinite(let message): self.init(.nonFinite, message)
        case .cancelled: self.init(.unavailable, "the request was cancelled")
        case .deadlineExceeded: self = .deadlineExceeded
        }
    }

    /// The transport's refusals (a body over the limit, the server stopping).
    public init(_ refusal: HTTPRefusal) {
        self.init(.of(status: refusal.status), refusal.message)
    }

    /// `{"error":{"code":…,"message":…}}` as a response that keeps this error for
    /// the observers of the answer.
    public var response: HTTPResponse {
        let body = JSONValue.object(JSONObject([
            "error": .object(JSONObject(["code": .string(code), "message": .string(message)])),
        ]))
        // Strings only: encoding cannot fail.
        let text = (try? body.encoded()) ?? #"{"error":{"code":"internal","message":"error"}}"#
        var response = HTTPResponse(status: status, contentType: "application/json", body: Array(text.utf8), headers: headers)
        response.error = self
        return response
    }
}

extension APIError {
    /// The Open Inference Protocol's error answer, `{"error": "…"}`, with the same status.
    var v2Response: HTTPResponse {
        let text = (try? JSONValue.object(JSONObject(["error": .string(message)])).encoded()) ?? #"{"error":"error"}"#
        var response = HTTPResponse(status: status, contentType: "application/json", body: Array(text.utf8), headers: headers)
        response.error = self
        return response
    }
}

// MARK: The server's own errors (the error table's examples use them too)

extension APIError {
    static func unknownModel(_ name: String) -> APIError {
        APIError(.notFound, "no model named '\(name)'")
    }

    static func noRoute(_ path: String) -> APIError {
        APIError(.notFound, "no route for \(path)")
    }

    static func methodNotAllowed(_ method: String, _ path: String, allowed: [String]) -> APIError {
        APIError(.methodNotAllowed, "method \(method) is not allowed for \(path)",
                 headers: [(ErrorStatus.Header.allow.rawValue, allowed.joined(separator: ", "))])
    }

    static let unauthorized: APIError = APIError(ErrorStatus.unauthorized, "a valid bearer token is required",
                                                 headers: [(ErrorStatus.Header.wwwAuthenticate.rawValue, "Bearer realm=\"scoreserve\"")])

    /// `media` nil: the request had no `Content-Type`.
    static func unsupportedMediaType(_ media: String?, binary: Bool = false) -> APIError {
        let given = media.map { $0.isEmpty ? "an empty media type" : $0 } ?? "no Content-Type"
        let expected = binary ? "application/json or application/octet-stream"
            : "application/json (Content-Type: application/json)"
        return APIError(.unsupportedMediaType, "the body must be \(expected), got \(given)")
    }

    static func notReady(draining: Bool) -> APIError {
        APIError(.unavailable, draining ? "the server is shutting down" : "the server is starting")
    }

    static let deadlineExceeded: APIError = APIError(ErrorStatus.deadlineExceeded, "the request's deadline passed; its work was stopped")

    static func unexpected(_ what: String) -> APIError {
        APIError(.internal, "unexpected error: \(what)")
    }
}
