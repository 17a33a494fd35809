import Foundation
#if canImport(Glibc)
import Glibc
#endif
import ScoreJSON

/// One HTTP response as a raw-socket client read it.
struct HTTPReply: Sendable, CustomStringConvertible {
    var status: Int
    var reason: String
    /// Header names in lower case; repeated headers joined with ", ".
    var headers: [String: String]
    var body: [UInt8]
    /// Bytes the server sent after the end of this response on a `Connection: close`
    /// exchange (there should be none).
    var trailing: [UInt8]

    func header(_ name: String) -> String? { headers[name.lowercased()] }
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue? { try? JSONValue.parse(body) }
    var object: JSONObject? { if case .object(let o)? = json { return o } else { return nil } }

    /// The `{"error":{"code","message"}}` answer, if the body is exactly that shape.
    var error: (code: String, message: String)? {
        guard let o = object, o.count == 1, case .object(let e)? = o["error"], e.count == 2,
              case .string(let code)? = e["code"], case .string(let message)? = e["message"],
              !code.isEmpty, !message.isEmpty
        else { return nil }
        return (code, message)
    }

    var description: String {
        let shown = body.count > 400 ? String(decoding: body.prefix(400), as: UTF8.self) + "…" : text
        return "HTTP \(status) \(reason) \(headers) \(shown)"
    }
}

enum HTTPClientError: Error, CustomStringConvertible {
    case system(String, Int32)
    case timeout(String)
    case malformed(String)

    var description: String {
        switch self {
        case .system(let what, let e): "\(what): \(String(cString: strerror(e))) (errno \(e))"
        case .timeout(let what): "timed out: \(what)"
        case .malformed(let why): "malformed response: \(why)"
        }
    }
}

/// A minimal HTTP/1.1 client on raw sockets: one connection per request with
/// `Connection: close`, read until EOF under a receive timeout, so a server that hangs
/// fails the test instead of hanging it. It can also send arbitrary bytes and close a
/// connection early.
struct HTTPTestClient: Sendable {
    let port: UInt16
    /// Seconds a single exchange may take (connect, send and read until EOF).
    var timeout: Double = 30
    /// The loopback address the client's sockets come from (127.0.0.0/8: another one
    /// is another client to the server's per-address limits).
    var source = "127.0.0.1"

    init(port: UInt16, timeout: Double = 30, source: String = "127.0.0.1") {
        self.port = port
        self.timeout = timeout
        self.source = source
    }

    // MARK: Sockets

    /// A connected socket to 127.0.0.1:port with send and receive timeouts.
    func connect(receiveTimeout: Double? = nil) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPClientError.system("socket", errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        Self.setTimeout(fd, SO_SNDTIMEO, timeout)
        Self.setTimeout(fd, SO_RCVTIMEO, receiveTimeout ?? timeout)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if source != "127.0.0.1" {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let e = errno
                close(fd)
                throw HTTPClientError.system("bind to \(source)", e)
            }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw HTTPClientError.system("connect to port \(port)", e)
        }
        return fd
    }

    static func setTimeout(_ fd: Int32, _ option: Int32, _ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends every byte (MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE).
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw HTTPClientError.timeout("send") }
                throw HTTPClientError.system("send", errno)
            }
            sent += n
        }
    }

    /// Reads until EOF; throws `.timeout` if the server neither answers nor closes in time.
    /// A connection reset after some bytes arrived ends the read (the server may reset
    /// a connection whose request it did not read in full).
    func receiveAll(_ fd: Int32, limit: Double? = nil) throws -> [UInt8] {
        let deadline = Date().addingTimeInterval(limit ?? timeout)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out.append(contentsOf: buffer[0..<n]) } else if n == 0 { return out } else {
                let e = errno
                if e == EINTR { continue }
                if e == EAGAIN || e == EWOULDBLOCK {
                    throw HTTPClientError.timeout("no EOF after \(out.count) bytes")
                }
                if e == ECONNRESET && !out.isEmpty { return out }
                throw HTTPClientError.system("recv", e)
            }
            if Date() > deadline { throw HTTPClientError.timeout("reading past the deadline (\(out.count) bytes)") }
        }
    }

    // MARK: Exchanges

    /// Sends `bytes` on a new connection and returns everything the server sends back
    /// until it closes.
    func raw(_ bytes: [UInt8], receiveTimeout: Double? = nil) throws -> [UInt8] {
        let fd = try connect(receiveTimeout: receiveTimeout)
        defer { close(fd) }
        do { try Self.sendAll(fd, bytes) } catch HTTPClientError.system(_, let e) where e == EPIPE || e == ECONNRESET {
            // The server answered and closed before reading everything: read its answer.
        }
        return try receiveAll(fd, limit: receiveTimeout)
    }

    /// Sends raw bytes and parses the answer as one HTTP response.
    func exchange(_ bytes: [UInt8], method: String = "GET") throws -> HTTPReply {
        try Self.parse(try raw(bytes), method: method)
    }

    /// The bytes of a request with `Connection: close` (and `Content-Length` when there
    /// is a body and no framing header was given).
    func requestBytes(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) -> [UInt8] {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let framed = headers.contains { ["content-length", "transfer-encoding"].contains($0.0.lowercased()) }
        if let body, !framed { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + (body ?? [])
    }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> HTTPReply {
        try exchange(requestBytes(method, path, headers: headers, body: body), method: method)
    }

    func get(_ path: String, headers: [(String, String)] = []) throws -> HTTPReply {
        try request("GET", path, headers: headers)
    }

    /// POSTs a JSON text (Content-Type application/json unless `headers` names one).
    func post(_ path: String, _ json: String, headers: [(String, String)] = []) throws -> HTTPReply {
        var h = headers
        if !h.contains(where: { $0.0.lowercased() == "content-type" }) { h.append(("Content-Type", "application/json")) }
        return try request("POST", path, headers: h, body: Array(json.utf8))
    }

    /// Opens a connection and sends a request without reading the answer; the caller
    /// closes it (early, to test disconnects) or reads it.
    func open(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> OpenConnection {
        let fd = try connect()
        do { try Self.sendAll(fd, requestBytes(method, path, headers: headers, body: body)) } catch {
            close(fd)
            throw error
        }
        return OpenConnection(fd: fd, client: self, method: method)
    }

    // MARK: Parsing

    /// Parses one complete response from `bytes` (1xx interim answers skipped). Throws
    /// when the head is malformed or the body is shorter than its framing says.
    static func parse(_ bytes: [UInt8], method: String = "GET") throws -> HTTPReply {
        var rest = bytes[...]
        while true {
            guard let end = find([13, 10, 13, 10], in: rest) else {
                throw HTTPClientError.malformed("no end of head in \(bytes.count) bytes: \(preview(bytes))")
            }
            let head = String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
            var body = rest[(end + 4)...]
            let lines = head.components(separatedBy: "\r\n")
            let statusParts = lines[0].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]),
                  (100...599).contains(status) else {
                throw HTTPClientError.malformed("bad status line '\(lines[0])'")
            }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { throw HTTPClientError.malformed("bad header line '\(line)'") }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                headers[name] = headers[name].map { $0 + ", " + value } ?? value
            }
            if (100...199).contains(status) { rest = body; continue }
            let reason = statusParts.count > 2 ? String(statusParts[2]) : ""
            if method == "HEAD" || status == 204 || status == 304 {
                return HTTPReply(status: status, reason: reason, headers: headers, body: [], trailing: Array(body))
            }
            if let te = headers["transfer-encoding"], te.lowercased().contains("chunked") {
                var decoded: [UInt8] = []
                while true {
                    guard let lineEnd = find([13, 10], in: body) else { throw HTTPClientError.malformed("truncated chunk size") }
                    let sizeText = String(decoding: body[body.startIndex..<lineEnd], as: UTF8.self)
                        .split(separator: ";")[0].trimmingCharacters(in: .whitespaces)
                    guard let size = Int(sizeText, radix: 16) else { throw HTTPClientError.malformed("bad chunk size '\(sizeText)'") }
                    body = body[(lineEnd + 2)...]
                    if size == 0 {
                        guard let trailerEnd = find([13, 10], in: body) else { throw HTTPClientError.malformed("no end of chunks") }
                        body = body[(trailerEnd + 2)...]
                        break
                    }
                    guard body.count >= size + 2 else { throw HTTPClientError.malformed("truncated chunk") }
                    decoded += body.prefix(size)
                    body = body.dropFirst(size + 2)
                }
                return HTTPReply(status: status, reason: reason, headers: headers, body: decoded, trailing: Array(body))
            }
            if let lengthText = headers["content-length"] {
                guard let length = Int(lengthText), length >= 0 else {
                    throw HTTPClientError.malformed("bad Content-Length '\(lengthText)'")
                }
                guard body.count >= length else {
                    throw HTTPClientError.malformed("body has \(body.count) of \(length) bytes")
                }
                return HTTPReply(status: status, reason: reason, headers: headers, body: Array(body.prefix(length)),
                                 trailing: Array(body.dropFirst(length)))
            }
            return HTTPReply(status: status, reason: reason, headers: headers, body: Array(body), trailing: [])
        }
    }

    static func find(_ needle: [UInt8], in hay: ArraySlice<UInt8>) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = hay.startIndex
        while i <= hay.endIndex - needle.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    static func preview(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix(200), as: UTF8.self).debugDescription
    }
}

/// A connection with a request sent and its answer not yet read.
final class OpenConnection: @unchecked Sendable {
    // @unchecked Sendable: used by one thread at a time (the test that opened it).
    private(set) var fd: Int32
    let client: HTTPTestClient
    let method: String

    init(fd: Int32, client: HTTPTestClient, method: String) {
        self.fd = fd
        self.client = client
        self.method = method
    }

    /// Reads the answer to the end and closes.
    func read() throws -> HTTPReply {
        defer { close() }
        return try HTTPTestClient.parse(try client.receiveAll(fd), method: method)
    }

    /// Reads until `needle` has arrived (or the server closed); what arrived so far.
    func read(until needle: String, seconds: Double = 30) throws -> [UInt8] {
        let target = Array(needle.utf8), deadline = Date().addingTimeInterval(seconds)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while HTTPTestClient.find(target, in: out[...]) == nil {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { out.append(contentsOf: buffer[0..<n]) } else if n == 0 { return out } else if errno != EINTR && errno != EAGAIN {
                throw HTTPClientError.system("recv", errno)
            }
            if Date() > deadline { throw HTTPClientError.timeout("no '\(needle)' after \(out.count) bytes") }
        }
        return out
    }

    /// Closes the socket (a client that hangs up).
    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    deinit { close() }
}

/// Runs blocking socket work on its own thread, so waiting on the server holds no
/// thread of the Swift concurrency pool or of Dispatch's (which the server's handlers
/// and the engine share).
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        let thread = Thread(block: {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        })
        thread.stackSize = 1 << 20
        thread.start()
    }
}
