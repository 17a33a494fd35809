import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import ScoreHTTP
import ScoreHTTPTransport

extension ServerIntegrationTests {
    /// Clients that open connections and send nothing, or a byte now and then, cannot
    /// lock others out: one address holds at most `perClientConnectionLimit`
    /// connections, and a connection that has not delivered its request within the
    /// deadline is closed.
    @Suite("Slow and idle clients")
    struct SlowClients {
        /// Whether the peer has closed `fd` (EOF or reset), waiting up to `seconds`.
        static func closedByPeer(_ fd: Int32, within seconds: Double) -> Bool {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(seconds * 1000)) > 0 else { return false }
            var byte: UInt8 = 0
            return recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) <= 0
        }

        /// 2,000 connections from one address that send a request line and one header and
        /// then nothing: another client's /healthz and a small sample are answered within
        /// a second, and every slow connection is closed by the deadline.
        @Test func slowConnectionsCannotLockOthersOut() async throws {
            let deadline = 2.0, perClient = 50
            let server = try TestServer(transport: {
                $0.perClientConnectionLimit = perClient
                $0.requestDeadlineSeconds = deadline
            })
            let port = server.port
            let slow = try await onThread { () throws -> [Int32] in
                let client = HTTPTestClient(port: port, timeout: 5)
                var fds: [Int32] = []
                for _ in 0..<2000 {
                    let fd = try client.connect()
                    // A request line and one header, never the blank line that ends the head.
                    _ = try? HTTPTestClient.sendAll(fd, Array("GET /healthz HTTP/1.1\r\nHost: a\r\n".utf8))
                    fds.append(fd)
                }
                return fds
            }
            defer { for fd in slow { close(fd) } }
            let opened = DispatchTime.now()

            // Another client (another loopback address) is served at once.
            let other = HTTPTestClient(port: port, timeout: 5, source: "127.0.0.2")
            for (method, path, body) in [("GET", "/healthz", nil),
                                         ("POST", "/v1/models/gmm-vp/sample", #"{"n":2,"seed":1,"steps":10}"#)] {
                let start = DispatchTime.now()
                let reply = try await onThread {
                    try other.request(method, path, headers: body == nil ? [] : [("Content-Type", "application/json")],
                                      body: body.map { Array($0.utf8) })
                }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
                #expect(reply.status == 200, "\(method) \(path): \(reply)")
                #expect(seconds < 1, "\(method) \(path) took \(seconds) s behind 2,000 slow connections")
            }

            // The server kept at most `perClient` of them; those are closed by the deadline.
            let stillOpen = try await onThread { slow.filter { !Self.closedByPeer($0, within: 0) }.count }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - opened.uptimeNanoseconds) / 1e9
            if elapsed < deadline {
                #expect(stillOpen >= 1 && stillOpen <= perClient, "\(stillOpen) slow connections open after \(elapsed) s")
            }
            // Polled until every one is closed, for at most 3 s past the deadline.
            let unclosed = try await onThread { () -> Int in
                var open = slow
                let end = DispatchTime.now() + .milliseconds(Int((deadline + 3) * 1000))
                while !open.isEmpty && DispatchTime.now() < end {
                    open = open.filter { !Self.closedByPeer($0, within: 0) }
                    if !open.isEmpty { _ = Self.closedByPeer(open[0], within: 0.1) }
                }
                return open.count
            }
            #expect(unclosed == 0, "\(unclosed) slow connections still open \(deadline + 3) s past the deadline")
            #expect(server.server.connectionsClosedForDeadline >= 1)
            await server.stop()
        }

        /// The deadline restarts when a request's head has arrived: a kept-alive client that
        /// idled most of the deadline and then sends its body over most of another is
        /// served, not cut off mid-upload.
        @Test func bodyGetsItsOwnDeadline() async throws {
            let deadline = 1.5
            let server = try TestServer(transport: { $0.requestDeadlineSeconds = deadline })
            let client = HTTPTestClient(port: server.port, timeout: 5, source: "127.0.0.4")
            let reply = try await onThread { () throws -> HTTPReply in
                let fd = try client.connect()
                defer { close(fd) }
                usleep(1_000_000)  // idle, as a kept-alive connection between requests
                let body = Array(#"{"n":1,"seed":1,"steps":5}"#.utf8)
                try HTTPTestClient.sendAll(fd, Array("POST /v1/models/gmm-vp/sample HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8))
                // The body over 1 s: past the deadline counted from the connection's opening.
                for chunk in stride(from: 0, to: body.count, by: 3) {
                    usleep(100_000)
                    try HTTPTestClient.sendAll(fd, Array(body[chunk..<min(chunk + 3, body.count)]))
                }
                return try HTTPTestClient.parse(try client.receiveAll(fd), method: "POST")
            }
            #expect(reply.status == 200, "\(reply)")
            await server.stop()
        }

        /// A client that trickles its request a byte at a time (each within the idle
        /// timeout) is still closed at the deadline.
        @Test func tricklingClientIsClosedAtTheDeadline() async throws {
            let deadline = 1.5
            let server = try TestServer(transport: { $0.requestDeadlineSeconds = deadline })
            let client = HTTPTestClient(port: server.port, timeout: 5, source: "127.0.0.3")
            let (closed, seconds) = try await onThread { () throws -> (Bool, Double) in
                let fd = try client.connect()
                defer { close(fd) }
                let start = DispatchTime.now()
                for byte in Array("GET /healthz HTTP/1.1\r\nHost: trickle\r\nX-Padding: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 100) {
                    guard (try? HTTPTestClient.sendAll(fd, [byte])) != nil else { break }
                    if Self.closedByPeer(fd, within: 0.2) {
                        return (true, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
                    }
                }
                return (false, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
            }
            #expect(closed, "a trickling client kept its connection for \(seconds) s")
            #expect(seconds >= deadline - 0.1 && seconds < deadline + 1.5, "closed after \(seconds) s, deadline \(deadline) s")
            // A prompt client on a fresh connection is unaffected.
            #expect(try await server.get("/healthz").status == 200)
            await server.stop()
        }
    }
}
