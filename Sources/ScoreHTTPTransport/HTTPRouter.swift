/// Routes requests by method and path pattern (`/v1/models/{name}/sample`), answering
/// 404 for unknown paths and 405 with `Allow` for a known path with another method.
public struct HTTPRouter: HTTPHandler {
    public typealias Route = @Sendable (HTTPRequest, HTTPResponder) -> Void

    private struct Entry: Sendable {
        let method: String
        let segments: [Substring]
        let route: Route
    }

    private var entries: [Entry] = []
    /// Builds the body of the router's own 404 and 405 answers (the API's error shape).
    private let errorResponse: @Sendable (_ status: Int, _ message: String) -> HTTPResponse

    public init(errorResponse: @escaping @Sendable (_ status: Int, _ message: String) -> HTTPResponse) {
        self.errorResponse = errorResponse
    }

    /// Adds a route; `{x}` segments match any one non-empty segment as parameter x.
    public mutating func add(_ method: String, _ pattern: String, _ route: @escaping Route) {
        entries.append(Entry(method: method, segments: pattern.split(separator: "/"), route: route))
    }

    /// The pattern a path matches (for metrics labels), if any.
    public func pattern(for path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for e in entries where match(e.segments, Array(parts)) != nil {
            return "/" + e.segments.joined(separator: "/")
        }
        return nil
    }

    private func match(_ segments: [Substring], _ parts: [Substring]) -> [String: String]? {
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

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        // "/a/b" → ["a", "b"]; a trailing slash leaves an empty last part that matches nothing.
        let parts = Array(request.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst())
        var allowed: [String] = []
        for e in entries {
            guard let parameters = match(e.segments, parts) else { continue }
            if e.method == request.method || (request.method == "HEAD" && e.method == "GET") {
                var r = request
                r.parameters = parameters
                e.route(r, responder)
                return
            }
            allowed.append(e.method)
        }
        if allowed.isEmpty {
            responder.respond(errorResponse(404, "no route for \(request.path)"))
        } else {
            if allowed.contains("GET") { allowed.append("HEAD") }
            var response = errorResponse(405, "method \(request.method) is not allowed for \(request.path)")
            response.headers.append(("Allow", allowed.joined(separator: ", ")))
            responder.respond(response)
        }
    }
}
