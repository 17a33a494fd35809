/// Routes requests by method and path pattern (`/v1/models/{name}/sample`): `match`
/// finds a request's route once, with the pattern it matched (a metrics label) and
/// its path parameters, or says why none serves it (404, or 405 with `Allow`).
public struct HTTPRouter: Sendable {
    public typealias Route = @Sendable (HTTPRequest, HTTPResponder) -> Void

    /// What `match` found for a method and path.
    public enum Match: Sendable {
        /// The route to run, its pattern, and the parameters it fills in (`{name}` → value).
        case route(Route, pattern: String, parameters: [String: String])
        /// No pattern matches the path (a 404).
        case notFound
        /// A pattern matches the path but not the method (a 405); `allowed` are the
        /// methods it has, HEAD included where GET is, for the `Allow` header.
        case methodNotAllowed(pattern: String, allowed: [String])

        /// The pattern the path matched, nil when none did.
        public var pattern: String? {
            switch self {
            case .route(_, let pattern, _), .methodNotAllowed(let pattern, _): pattern
            case .notFound: nil
            }
        }
    }

    private struct Entry: Sendable {
        let method: String
        let segments: [Substring]
        let route: Route
        var pattern: String { "/" + segments.joined(separator: "/") }
    }

    private var entries: [Entry] = []

    public init() {}

    /// Adds a route; `{x}` segments match any one non-empty segment as parameter x.
    /// HEAD requests are served by the GET route of their path.
    public mutating func add(_ method: String, _ pattern: String, _ route: @escaping Route) {
        entries.append(Entry(method: method, segments: pattern.split(separator: "/"), route: route))
    }

    /// The route for `method` and `path`, matched once.
    public func match(method: String, path: String) -> Match {
        // "/a/b" → ["a", "b"]; a trailing slash leaves an empty last part that matches nothing.
        let parts = Array(path.split(separator: "/", omittingEmptySubsequences: false).dropFirst())
        var allowed: [String] = []
        var pathPattern: String?
        for e in entries {
            guard let parameters = Self.parameters(e.segments, parts) else { continue }
            if e.method == method || (method == "HEAD" && e.method == "GET") {
                return .route(e.route, pattern: e.pattern, parameters: parameters)
            }
            pathPattern = pathPattern ?? e.pattern
            allowed.append(e.method)
        }
        guard let pathPattern else { return .notFound }
        if allowed.contains("GET") { allowed.append("HEAD") }
        return .methodNotAllowed(pattern: pathPattern, allowed: allowed)
    }

    /// The parameters of `parts` matched against a pattern's `segments`, nil when they
    /// do not match.
    private static func parameters(_ segments: [Substring], _ parts: [Substring]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        var parameters: [String: String] = [:]
        for (s, p) in zip(segments, parts) {
            if s.hasPrefix("{") && s.hasSuffix("}") {
                guard !p.isEmpty else { return nil }
                parameters[String(s.dropFirst().dropLast())] = String(p)
            } else if s != p {
                return nil
            }
        }
        return parameters
    }
}
