/// One HTTP request as the transport received it: the whole body is in memory.
public struct HTTPRequest: Sendable {
    public let method: String
    /// The path without the query string.
    public let path: String
    /// Header names in lower case.
    public let headers: [String: String]
    public let body: [UInt8]
    /// The request's id: the client's `X-Request-Id` when usable, else generated.
    public let id: String
    /// Path parameters filled in by the router (`{name}` → value).
    public var parameters: [String: String] = [:]

    public init(method: String, path: String, headers: [String: String], body: [UInt8], id: String) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.id = id
    }

    /// A header by case-insensitive name.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// Whether the `Accept` header lists `mediaType` itself with a quality above 0
    /// (`image/png`, `image/png;q=0.5`; not `image/png;q=0`, not wildcards).
    public func accepts(_ mediaType: String) -> Bool {
        guard let accept = header("accept") else { return false }
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard parts.first == mediaType.lowercased() else { continue }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return q > 0
        }
        return false
    }
}

/// An HTTP response; the transport adds `X-Request-Id`.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// The error this answer reports, when the handler made it from one. Never sent:
    /// it tells observers of the answer (logging, metrics) which error it was.
    public var error: (any Error)?
    /// A body sent as it is written (then `body` is ignored): chunked, open-ended.
    public var stream: HTTPStream?

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a body of the given content type.
    public init(status: Int, contentType: String, body: [UInt8], headers: [(String, String)] = []) {
        self.init(status: status, headers: [("Content-Type", contentType)] + headers, body: body)
    }
}
