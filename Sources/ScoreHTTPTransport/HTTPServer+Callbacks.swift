import CMicroHTTPD
import Foundation

/// The state of one request across libmicrohttpd's calls of the access handler.
final class RequestState: @unchecked Sendable {
    // @unchecked Sendable: every mutable field is read and written under `lock`.
    enum Phase { case receiving, processing, ready(HTTPResponse), sent }

    let lock = NSLock()
    let method: String
    let path: String
    let headers: [String: String]
    let id: String
    var body: [UInt8] = []
    /// Set when the transport refuses the request (a body over the limit).
    var refusal: HTTPRefusal?
    var phase = Phase.receiving
    /// Set by the completion callback: the connection is gone and must not be resumed.
    var closed = false
    var watchID: Int?
    var responder: HTTPResponder?
    /// True while the handler runs inside libmicrohttpd's callback: a response given
    /// then is queued directly, without suspending the connection.
    var inCallback = false
    /// The libmicrohttpd connection, valid until `closed`.
    var connection: OpaquePointer?

    init(method: String, path: String, headers: [String: String], id: String) {
        self.method = method
        self.path = path
        self.headers = headers
        self.id = id
    }
}

/// Collects a connection's request headers (names in lower case).
private final class HeaderBox { var headers: [String: String] = [:] }

private func collectHeaders(_ connection: OpaquePointer?) -> [String: String] {
    let box = HeaderBox()
    let raw = Unmanaged.passUnretained(box).toOpaque()
    _ = MHD_get_connection_values(connection, .HEADER_KIND, { cls, _, key, value in
        guard let cls, let key else { return .YES }
        let box = Unmanaged<HeaderBox>.fromOpaque(cls).takeUnretainedValue()
        let name = String(cString: key).lowercased()
        let v = value.map { String(cString: $0) } ?? ""
        // Repeated headers are joined as HTTP allows.
        box.headers[name] = box.headers[name].map { $0 + ", " + v } ?? v
        return .YES
    }, raw)
    return box.headers
}

/// Queues `response` (plus the request id) on a connection; a streaming one is read
/// from its `HTTPStream` as it is written.
private func queue(_ response: HTTPResponse, _ state: RequestState, _ server: HTTPServer,
                   on connection: OpaquePointer?) -> MHD_Result {
    let made: OpaquePointer?
    if let stream = response.stream {
        server.streaming(state, stream)
        if server.stopping.load(ordering: .relaxed) { stream.finish() }
        let reader = Unmanaged.passRetained(StreamReader(stream: stream, state: state, server: server)).toOpaque()
        made = smhd_response_from_callback(4096, readStream, reader, { cls in
            if let cls { Unmanaged<StreamReader>.fromOpaque(cls).release() }
        })
    } else {
        made = response.body.withUnsafeBytes { smhd_response_from_copy($0.count, $0.baseAddress) }
    }
    guard let r = made else { return .NO }
    defer { MHD_destroy_response(r) }
    for (name, value) in response.headers { _ = MHD_add_response_header(r, name, value) }
    _ = MHD_add_response_header(r, "X-Request-Id", state.id)
    return MHD_queue_response(connection, UInt32(response.status), r)
}

/// What a streaming response's reader needs: its stream, and the request to suspend
/// while the stream is empty. @unchecked Sendable: its fields are constants; the
/// request's state is read under its lock.
private final class StreamReader: @unchecked Sendable {
    let stream: HTTPStream
    let state: RequestState
    let server: HTTPServer

    init(stream: HTTPStream, state: RequestState, server: HTTPServer) {
        self.stream = stream
        self.state = state
        self.server = server
    }
}

/// libmicrohttpd's content reader of a streaming response: the stream's pending bytes;
/// none yet: the connection is suspended (watched for a disconnect meanwhile) until the
/// stream is written to or finished; finished and sent: the end of the body.
private func readStream(_ cls: UnsafeMutableRawPointer?, _ position: UInt64, _ buffer: UnsafeMutablePointer<CChar>?,
                        _ max: Int) -> Int {
    guard let cls, let buffer else { return -1 }
    let reader = Unmanaged<StreamReader>.fromOpaque(cls).takeUnretainedValue()
    let state = reader.state, server = reader.server
    let read = reader.stream.read(into: buffer, max: max, suspend: {
        state.lock.lock()
        defer { state.lock.unlock() }
        MHD_suspend_connection(state.connection)
        server.remember(state)
        let fd = smhd_connection_fd(state.connection)
        if fd >= 0, let responder = state.responder { state.watchID = server.watcher.add(fd: fd, signal: responder.disconnect) }
    }, wake: { [weak state] in
        guard let state else { return }
        state.lock.lock()
        defer { state.lock.unlock() }
        guard !state.closed else { return }
        if let id = state.watchID { server.watcher.remove(id); state.watchID = nil }
        server.forget(state)
        MHD_resume_connection(state.connection)
    })
    switch read {
    case .bytes(let n): return n
    case .waiting: return 0
    case .end: return -1   // MHD_CONTENT_READER_END_OF_STREAM
    }
}

/// libmicrohttpd's access handler: called for the headers, for each piece of the
/// body, once the body is complete, and again after a suspended connection resumes.
func accessHandler(_ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
                   _ url: UnsafePointer<CChar>?, _ method: UnsafePointer<CChar>?,
                   _ version: UnsafePointer<CChar>?, _ uploadData: UnsafePointer<CChar>?,
                   _ uploadSize: UnsafeMutablePointer<Int>?,
                   _ context: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> MHD_Result {
    guard let cls, let context, let uploadSize else { return .NO }
    let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()
    let limit = server.configuration.maxBodyBytes

    guard let existing = context.pointee else {
        // First call: the headers are in.
        let headers = collectHeaders(connection)
        let state = RequestState(method: method.map { String(cString: $0) } ?? "GET",
                                 path: url.map { String(cString: $0) } ?? "/",
                                 headers: headers, id: HTTPServer.requestID(headers["x-request-id"]))
        server.active.add(1, ordering: .relaxed)
        context.pointee = Unmanaged.passRetained(state).toOpaque()
        // The head is in: the body gets a deadline of its own (an idle keep-alive before
        // this request does not eat into it).
        if let connection { server.deadlines?.restart(connection) }
        if let length = headers["content-length"], let n = Int(length), n > limit {
            // Refuse before reading the body: libmicrohttpd then closes the connection.
            state.refusal = .bodyTooLarge(limit: limit, declared: n)
            state.lock.lock()
            return dispatch(state, server, connection)
        }
        return .YES
    }
    let state = Unmanaged<RequestState>.fromOpaque(existing).takeUnretainedValue()

    if uploadSize.pointee > 0 {
        let n = uploadSize.pointee
        if state.refusal == nil {
            if state.body.count + n > limit {
                state.refusal = .bodyTooLarge(limit: limit, declared: nil)
                state.body = []
            } else if let uploadData {
                uploadData.withMemoryRebound(to: UInt8.self, capacity: n) {
                    state.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n))
                }
            }
        }
        uploadSize.pointee = 0
        return .YES
    }

    state.lock.lock()
    switch state.phase {
    case .receiving:
        return dispatch(state, server, connection)
    case .ready(let response):
        state.phase = .sent
        state.lock.unlock()
        return queue(response, state, server, on: connection)
    case .processing, .sent:
        state.lock.unlock()
        return .YES
    }
}

/// Hands a received request (with `state.lock` held, which it releases) to the
/// handler, or its refusal: an answer given during the call is queued at once; else
/// the connection is suspended until the answer comes from another thread.
private func dispatch(_ state: RequestState, _ server: HTTPServer, _ connection: OpaquePointer?) -> MHD_Result {
    state.phase = .processing
    let request = HTTPRequest(method: state.method, path: state.path, headers: state.headers,
                              body: state.body, id: state.id)
    state.body = []
    let responder = HTTPResponder { [weak state] response in
        guard let state else { return }
        state.lock.lock()
        defer { state.lock.unlock() }
        guard !state.closed, case .processing = state.phase else { return }
        state.phase = .ready(response)
        if state.inCallback { return }  // queued when the handler returns
        if let id = state.watchID { server.watcher.remove(id) }
        server.forget(state)
        MHD_resume_connection(state.connection)
    }
    state.responder = responder
    state.connection = connection
    if let connection { server.deadlines?.received(connection) }
    state.inCallback = true
    let refusal = state.refusal
    state.lock.unlock()
    if let refusal {
        server.refuse(request, refusal, responder)
    } else {
        // Handlers validate and hand long work to the engine; they do not block.
        server.handler.handle(request, responder)
    }
    state.lock.lock()
    state.inCallback = false
    if case .ready(let response) = state.phase {
        state.phase = .sent
        state.lock.unlock()
        return queue(response, state, server, on: connection)
    }
    // The answer comes later from another thread: suspend until it does.
    MHD_suspend_connection(connection)
    server.remember(state)
    let fd = smhd_connection_fd(connection)
    if fd >= 0 { state.watchID = server.watcher.add(fd: fd, signal: responder.disconnect) }
    state.lock.unlock()
    return .YES
}

/// libmicrohttpd's completion callback: the request is over (answered, or the
/// connection closed); a client that left early cancels its work.
func requestCompleted(_ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
                      _ context: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                      _ code: MHD_RequestTerminationCode) {
    guard let cls, let context, let raw = context.pointee else { return }
    let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()
    let state = Unmanaged<RequestState>.fromOpaque(raw).takeRetainedValue()
    context.pointee = nil
    state.lock.lock()
    state.closed = true
    if let id = state.watchID { server.watcher.remove(id) }
    server.forget(state)
    server.streaming(state, nil)
    let responder = state.responder
    state.lock.unlock()
    if code != .REQUEST_TERMINATED_COMPLETED_OK { responder?.disconnect.fire() }
    if let connection { server.deadlines?.restart(connection) }
    server.active.subtract(1, ordering: .relaxed)
}

/// libmicrohttpd's connection notifications: connections are watched for the request
/// deadline from the moment they open until they close.
func connectionNotified(_ cls: UnsafeMutableRawPointer?, _ connection: OpaquePointer?,
                        _ socketContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                        _ code: MHD_ConnectionNotificationCode) {
    guard let cls, let connection else { return }
    let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()
    guard let deadlines = server.deadlines else { return }
    if code == .CONNECTION_NOTIFY_STARTED {
        deadlines.opened(connection, fd: smhd_connection_fd(connection))
    } else {
        deadlines.closed(connection)
    }
}
