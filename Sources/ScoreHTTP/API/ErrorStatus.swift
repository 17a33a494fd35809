import ScoreHTTPTransport

/// One row of the table of error answers: a status the server answers with, its
/// machine-readable code, its OpenAPI response, the headers it carries and the
/// rejection reason it counts as in the metrics.
///
/// `ErrorStatus.all` is the one table: `APIError.code(for:)`, the OpenAPI document's
/// error responses and code list, and the request recorder's rejection counting all
/// read it.
public struct ErrorStatus: Sendable, Hashable {
    /// A header an error answer carries.
    public enum Header: String, Sendable, CaseIterable {
        case retryAfter = "Retry-After"
        case wwwAuthenticate = "WWW-Authenticate"
        case allow = "Allow"
    }

    public let status: Int
    /// The `error.code` of the answer's body.
    public let code: String
    /// The name of its response under `#/components/responses` of the OpenAPI document.
    public let component: String
    /// When the server answers with it.
    public let description: String
    /// The headers it carries.
    public let headers: [Header]
    /// Its series of `scoreserve_rejected_requests_total`; nil when it is no rejection.
    public let rejection: String?
    /// A message the server really sends with it, on a server with these limits.
    public let example: @Sendable (APILimits) -> String

    /// The table's rows are the rows; a code names one.
    public static func == (a: ErrorStatus, b: ErrorStatus) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}

extension ErrorStatus {
    public static let invalidArgument = ErrorStatus(
        status: 400, code: "invalid_argument", component: "BadRequest",
        description: "Malformed JSON, a wrong type, an out-of-range value, an unknown field, or a sampler not valid for this model; the message names the field.",
        headers: [], rejection: "invalid",
        example: { APIError.invalid(field: "n", "must be between 1 and \($0.maxN), got 0").message })
    public static let unauthorized = ErrorStatus(
        status: 401, code: "unauthorized", component: "Unauthorized",
        description: "Missing or invalid bearer token.",
        headers: [.wwwAuthenticate], rejection: "unauthorized",
        example: { _ in APIError.unauthorized.message })
    public static let notFound = ErrorStatus(
        status: 404, code: "not_found", component: "NotFound",
        description: "Unknown model or path.",
        headers: [], rejection: nil,
        example: { _ in APIError.unknownModel("moons").message })
    public static let methodNotAllowed = ErrorStatus(
        status: 405, code: "method_not_allowed", component: "MethodNotAllowed",
        description: "The path does not take this method; `Allow` lists the methods it takes.",
        headers: [.allow], rejection: nil,
        example: { _ in APIError.methodNotAllowed("GET", "/v1/models/moons/sample", allowed: ["POST"]).message })
    public static let notAcceptable = ErrorStatus(
        status: 406, code: "not_acceptable", component: "NotAcceptable",
        description: "`Accept: image/png` asked of a model whose samples are not images.",
        headers: [], rejection: nil,
        example: { _ in "image/png needs an image model (data.shape [H, W], [1, H, W] or [3, H, W]); 'moons-vp' has shape [2]" })
    public static let payloadTooLarge = ErrorStatus(
        status: 413, code: "payload_too_large", component: "PayloadTooLarge",
        description: "Request body over the server's limit: refused from `Content-Length` before the body is read, or when a chunked body passes the limit.",
        headers: [], rejection: "too_large",
        example: { APIError(HTTPRefusal.bodyTooLarge(limit: $0.maxBodyBytes, declared: 2 * $0.maxBodyBytes)).message })
    public static let unsupportedMediaType = ErrorStatus(
        status: 415, code: "unsupported_media_type", component: "UnsupportedMediaType",
        description: "`Content-Type` missing, or not application/json or application/*+json (a form post from a web page must never start work).",
        headers: [], rejection: nil,
        example: { _ in APIError.unsupportedMediaType("text/plain").message })
    public static let nonFinite = ErrorStatus(
        status: 422, code: "non_finite", component: "NonFinite",
        description: "The computation produced a non-finite value (a diverging sampler, an input that overflows); the message says which sample or point.",
        headers: [], rejection: nil,
        example: { _ in "sample 3 became non-finite (the sampler diverged)" })
    public static let overloaded = ErrorStatus(
        status: 429, code: "overloaded", component: "Overloaded",
        description: "Admission queue full; retry after `Retry-After` seconds.",
        headers: [.retryAfter], rejection: "overloaded",
        example: { _ in "the server is busy; retry shortly" })
    public static let `internal` = ErrorStatus(
        status: 500, code: "internal", component: "Internal",
        description: "An unexpected failure of the server; the message describes it.",
        headers: [], rejection: nil,
        example: { _ in APIError.unexpected("the answer could not be written").message })
    public static let unavailable = ErrorStatus(
        status: 503, code: "unavailable", component: "Unavailable",
        description: "Not ready: starting, draining, or stopping.",
        headers: [], rejection: "draining",
        example: { _ in APIError.notReady(draining: true).message })
    public static let deadlineExceeded = ErrorStatus(
        status: 504, code: "deadline_exceeded", component: "DeadlineExceeded",
        description: "The deadline (`timeout_ms`) passed; the work was stopped.",
        headers: [], rejection: "deadline",
        example: { _ in APIError.deadlineExceeded.message })

    /// The table, by status.
    public static let all: [ErrorStatus] = [
        invalidArgument, unauthorized, notFound, methodNotAllowed, notAcceptable, payloadTooLarge,
        unsupportedMediaType, nonFinite, overloaded, `internal`, unavailable, deadlineExceeded,
    ]

    /// The row of `status`; `internal` for a status the table lacks.
    public static func of(status: Int) -> ErrorStatus {
        all.first { $0.status == status } ?? .internal
    }

    /// The rejection reason of a request whose client left before its answer (its work
    /// is cancelled): no row, since that client sees no answer.
    public static let cancelledRejection = "cancelled"

    /// Every rejection reason the server counts: the table's and `cancelled`.
    public static var rejectionReasons: [String] { all.compactMap(\.rejection) + [cancelledRejection] }
}
