import Foundation
import Synchronization
import Testing
import ScoreHTTPTransport

/// The transport without the API: the router's one match per request, and the
/// refusals (413, the 503 of a stopping server) that it has the handler answer.
@Suite("HTTP transport")
struct HTTPTransportTests {
    /// Names of what ran, in order, from any thread.
    final class Log: Sendable {
        private let entries = Mutex<[String]>([])
        func add(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    // MARK: Router

    static func router(_ log: Log) -> HTTPRouter {
        var router = HTTPRouter()
        for (method, pattern) in [("GET", "/healthz"), ("GET", "/v1/models/{name}"), ("DELETE", "/v1/models/{name}"),
                                  ("POST", "/v1/models/{name}/sample")] {
            router.add(method, pattern) { _, _ in log.add("\(method) \(pattern)") }
        }
        return router
    }

    @Test("match finds the route, its pattern and parameters; HEAD is served by GET")
    func routerMatches() {
        let log = Log()
        let router = Self.router(log)
        let responder = HTTPResponder { _ in }
        func run(_ method: String, _ path: String) -> (pattern: String, parameters: [String: String])? {
            guard case .route(let route, let pattern, let parameters) = router.match(method: method, path: path) else { return nil }
            route(HTTPRequest(method: method, path: path, headers: [:], body: [], id: "t"), responder)
            return (pattern, parameters)
        }
        let model = run("GET", "/v1/models/moons")
        #expect(model?.pattern == "/v1/models/{name}")
        #expect(model?.parameters == ["name": "moons"])
        #expect(run("DELETE", "/v1/models/moons")?.pattern == "/v1/models/{name}")
        #expect(run("POST", "/v1/models/a.b-c/sample")?.parameters == ["name": "a.b-c"])
        #expect(run("HEAD", "/healthz")?.pattern == "/healthz")
        // Each match ran exactly the route it names.
        #expect(log.all == ["GET /v1/models/{name}", "DELETE /v1/models/{name}", "POST /v1/models/{name}/sample",
                            "GET /healthz"])
    }

    @Test("no pattern for the path is a 404; a pattern without the method is a 405 with its methods")
    func routerRefuses() {
        let router = Self.router(Log())
        for path in ["/", "/nothing", "/v1/models/", "/v1/models", "/v1/models/moons/sample/extra", "/healthz/"] {
            guard case .notFound = router.match(method: "GET", path: path) else {
                Issue.record("\(path) should match nothing"); continue
            }
            #expect(router.match(method: "GET", path: path).pattern == nil)
        }
        guard case .methodNotAllowed(let pattern, let allowed) = router.match(method: "POST", path: "/v1/models/moons") else {
            Issue.record("POST /v1/models/moons should be a 405"); return
        }
        #expect(pattern == "/v1/models/{name}")
        #expect(allowed == ["GET", "DELETE", "HEAD"])
        guard case .methodNotAllowed(_, let postOnly) = router.match(method: "GET", path: "/v1/models/m/sample") else {
            Issue.record("GET /v1/models/m/sample should be a 405"); return
        }
        #expect(postOnly == ["POST"])
        #expect(router.match(method: "HEAD", path: "/v1/models/m/sample").pattern == "/v1/models/{name}/sample")
    }

    // MARK: Refusals through the handler

    /// Answers `/hold` never, `/silent` refusals never (the transport must then answer
    /// them itself), and everything else at once; records what it saw and what it
    /// answered, through observers on the responders.
    final class RecordingHandler: HTTPHandler {
        let handled = Log()
        let refused = Mutex<[(path: String, refusal: HTTPRefusal)]>([])
        let answers = Log()

        func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
            handled.add(request.path)
            observe(responder)
            if request.path == "/hold" { return }
            responder.respond(HTTPResponse(status: 200, contentType: "text/plain", body: Array("ok".utf8)))
        }

        func refuse(_ request: HTTPRequest, _ refusal: HTTPRefusal, _ responder: HTTPResponder) {
            refused.withLock { $0.append((request.path, refusal)) }
            observe(responder)
            if request.path != "/silent" { responder.respond(refusalResponse(refusal)) }
        }

        func refusalResponse(_ refusal: HTTPRefusal) -> HTTPResponse {
            HTTPResponse(status: refusal.status, contentType: "text/plain", body: Array("refused: \(refusal.message)".utf8))
        }

        private func observe(_ responder: HTTPResponder) {
            responder.onAnswer { [answers] in answers.add("\($0.status) \(String(decoding: $0.body, as: UTF8.self))") }
        }
    }

    /// A started server on an ephemeral port whose bodies are limited to 64 bytes.
    static func start() throws -> (HTTPServer, HTTPTestClient, RecordingHandler) {
        signal(SIGPIPE, SIG_IGN)
        let handler = RecordingHandler()
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        configuration.threads = 2
        configuration.maxBodyBytes = 64
        let server = HTTPServer(configuration: configuration, handler: handler)
        try server.start()
        return (server, HTTPTestClient(port: server.port, timeout: 10), handler)
    }

    static func chunked(_ client: HTTPTestClient, _ path: String, bytes: Int) -> [UInt8] {
        var out = client.requestBytes("POST", path, headers: [("Transfer-Encoding", "chunked")])
        for _ in 0..<(bytes / 16) { out += Array("10\r\n".utf8) + [UInt8](repeating: 0x20, count: 16) + [13, 10] }
        return out + Array("0\r\n\r\n".utf8)
    }

    @Test("a body over the limit is refused through the handler, never handed to handle")
    func bodyTooLarge() async throws {
        let (server, client, handler) = try Self.start()
        defer { server.stop(wait: 0.5) }
        #expect(try await onThread { try client.get("/readyz") }.status == 200)
        let refusals: [(request: [UInt8], answer: String)] = [
            (client.requestBytes("POST", "/declared", headers: [("Content-Length", "5000")]),
             "refused: the body is 5000 bytes; the limit is 64"),
            (Self.chunked(client, "/streamed", bytes: 128), "refused: the body passed the 64-byte limit"),
            // A handler that does not answer its refusal still gets its refusal answer sent.
            (client.requestBytes("POST", "/silent", headers: [("Content-Length", "100")]),
             "refused: the body is 100 bytes; the limit is 64"),
        ]
        for (bytes, answer) in refusals {
            let reply = try await onThread { try client.exchange(bytes, method: "POST") }
            #expect(reply.status == 413)
            #expect(reply.text == answer)
        }
        let fits = try await onThread { try client.exchange(Self.chunked(client, "/fits", bytes: 64), method: "POST") }
        #expect(fits.status == 200)

        let refused = handler.refused.withLock { $0 }
        #expect(refused.map(\.path) == ["/declared", "/streamed", "/silent"])
        #expect(refused.map(\.refusal) == [.bodyTooLarge(limit: 64, declared: 5000), .bodyTooLarge(limit: 64, declared: nil),
                                           .bodyTooLarge(limit: 64, declared: 100)])
        #expect(handler.handled.all == ["/readyz", "/fits"])
        // Every answer, refusals included, passed the observers the handler put on its responder.
        #expect(handler.answers.all == ["200 ok"] + refusals.map { "413 " + $0.answer } + ["200 ok"])
    }

    @Test("stopping answers a request the handler holds with its refusal, through its responder")
    func stoppingAnswersThroughTheHandler() async throws {
        let (server, client, handler) = try Self.start()
        let held = try await onThread { try client.open("GET", "/hold") }
        defer { held.close() }
        let deadline = Date().addingTimeInterval(10)
        while !handler.handled.all.contains("/hold") && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(handler.handled.all == ["/hold"])
        try await onThread { server.stop(wait: 0.1) }
        // The observer put on the held responder saw the handler's refusal answer.
        #expect(handler.answers.all == ["503 refused: the server is stopping"])
        #expect(handler.refused.withLock { $0.isEmpty })
    }
}
