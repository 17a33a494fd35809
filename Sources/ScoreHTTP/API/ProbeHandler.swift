import ScoreHTTPTransport

/// The routes of the probe listener (`serve --probe-port`): `/healthz`, `/readyz` and
/// `/metrics` only, so health checks and scrapes have connections of their own that
/// clients of the API cannot use up. Everything else there is a 404.
public struct ProbeHandler: HTTPHandler {
    /// The paths it serves (GET and HEAD).
    public static let paths: Set<String> = ["/healthz", "/readyz", "/metrics"]
    let handler: any HTTPHandler

    /// Probes answered by `handler` (the API, or the handler that stands in for it while
    /// the models load).
    public init(_ handler: any HTTPHandler) { self.handler = handler }

    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        if Self.paths.contains(request.path) {
            handler.handle(request, responder)
        } else {
            responder.respond(APIError.noRoute(request.path).response)
        }
    }

    public func refuse(_ request: HTTPRequest, _ refusal: HTTPRefusal, _ responder: HTTPResponder) {
        handler.refuse(request, refusal, responder)
    }

    public func refusalResponse(_ refusal: HTTPRefusal) -> HTTPResponse { handler.refusalResponse(refusal) }
}
