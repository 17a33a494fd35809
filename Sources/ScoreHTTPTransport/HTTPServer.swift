import CMicroHTTPD
import Foundation
import Synchronization

/// An HTTP/1.1 server on libmicrohttpd: its threads read requests and write answers,
/// while the handler's work runs elsewhere with the connection suspended.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler
    let watcher = DisconnectWatcher()
    /// Closes connections slow to deliver a request; nil without a deadline.
    let deadlines: ReceiveDeadlines?
    /// Requests waiting for their answer with the connection suspended.
    private let suspended = Mutex<[ObjectIdentifier: RequestState]>([:])
    /// The bodies being streamed (suspended or sending), so `stop` can end them all.
    private let streams = Mutex<[ObjectIdentifier: HTTPStream]>([:])
    /// Set by `stop`: a stream queued from then on is finished at once.
    let stopping = Atomic<Bool>(false)
    /// The daemon pointer. @unchecked Sendable: libmicrohttpd's daemon calls used here
    /// (quiesce, stop, info) are thread-safe, and the pointer is only replaced under the mutex.
    private struct Daemon: @unchecked Sendable { let pointer: OpaquePointer }
    private let daemon = Mutex<Daemon?>(nil)
    private let boundPort = Atomic<UInt16>(0)
    /// Requests received and not yet completed.
    let active = Atomic<Int>(0)

    /// Why the server could not start.
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// A server whose requests `handler` serves; it also writes the answers of the
    /// transport's own refusals (`HTTPRefusal`).
    public init(configuration: HTTPServerConfiguration, handler: any HTTPHandler) {
        self.configuration = configuration
        self.handler = handler
        deadlines = configuration.requestDeadlineSeconds > 0 ? ReceiveDeadlines(seconds: configuration.requestDeadlineSeconds) : nil
    }

    /// Connections closed so far because their request did not arrive within the deadline.
    public var connectionsClosedForDeadline: Int { deadlines?.closedCount.load(ordering: .relaxed) ?? 0 }

    /// The port it listens on (after `start`, also when configured with port 0).
    public var port: UInt16 { boundPort.load(ordering: .relaxed) }

    /// Requests that have arrived and not yet finished sending.
    public var activeRequests: Int { active.load(ordering: .relaxed) }

    /// Binds and starts serving.
    public func start() throws {
        let c = configuration
        var storage = sockaddr_storage()
        var isIPv6 = false
        let host = c.host == "localhost" ? "127.0.0.1" : c.host
        if host.contains(":") {
            isIPv6 = true
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = c.port.bigEndian
            guard inet_pton(AF_INET6, host, &a.sin6_addr) == 1 else { throw StartError(description: "invalid host '\(c.host)'") }
            withUnsafeBytes(of: a) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = c.port.bigEndian
            guard inet_pton(AF_INET, host, &a.sin_addr) == 1 else { throw StartError(description: "invalid host '\(c.host)'") }
            withUnsafeBytes(of: a) { raw in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: raw) } }
        }
        var flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue
            | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_ERROR_LOG.rawValue
        if isIPv6 { flags |= MHD_USE_IPv6.rawValue }
        let context = Unmanaged.passUnretained(self).toOpaque()
        let started: OpaquePointer? = withUnsafePointer(to: &storage) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                var settings = smhd_settings()
                settings.flags = UInt32(flags)
                settings.bind_addr = sa
                settings.thread_pool_size = UInt32(max(1, c.threads))
                settings.connection_limit = UInt32(max(1, c.connectionLimit))
                settings.connection_timeout_s = UInt32(max(1, c.connectionTimeoutSeconds))
                settings.connection_memory_limit = 64 * 1024
                settings.per_ip_connection_limit = UInt32(max(0, c.perClientConnectionLimit))
                if deadlines != nil {
                    settings.notify_connection = connectionNotified
                    settings.notify_connection_cls = context
                }
                return smhd_start_daemon(&settings, accessHandler, context, requestCompleted, context)
            }
        }
        guard let started else {
            throw StartError(description: "cannot listen on \(c.host):\(c.port) (address in use or not available)")
        }
        let handle = Daemon(pointer: started)
        daemon.withLock { $0 = handle }
        boundPort.store(smhd_bound_port(started), ordering: .relaxed)
    }

    /// Stops accepting new connections; requests already received go on.
    public func quiesce() {
        daemon.withLock { d in
            guard let d else { return }
            let fd = MHD_quiesce_daemon(d.pointer)
            if fd >= 0 { close(fd) }
        }
    }

    /// Has the handler answer a refusal; one that did not answer during the call gets
    /// its `refusalResponse`, so the refused request is never left waiting.
    func refuse(_ request: HTTPRequest, _ refusal: HTTPRefusal, _ responder: HTTPResponder) {
        handler.refuse(request, refusal, responder)
        responder.respond(handler.refusalResponse(refusal))
    }

    func remember(_ state: RequestState) { suspended.withLock { $0[ObjectIdentifier(state)] = state } }
    func streaming(_ state: RequestState, _ stream: HTTPStream?) {
        streams.withLock { $0[ObjectIdentifier(state)] = stream }
    }
    func forget(_ state: RequestState) { _ = suspended.withLock { $0.removeValue(forKey: ObjectIdentifier(state)) } }

    /// Stops the daemon. Requests still waiting for an answer are treated as
    /// disconnected (their work is cancelled) and, if they still have no answer after
    /// `wait` seconds, answered with the handler's `refusalResponse(.stopping)` (503):
    /// libmicrohttpd must not be stopped with a suspended connection.
    public func stop(wait: Double = 2) {
        // Before libmicrohttpd closes its sockets: their numbers are reused at once.
        deadlines?.stop()
        stopping.store(true, ordering: .relaxed)
        let waiting = suspended.withLock { Array($0.values) }
        for state in waiting { state.responder?.disconnect.fire() }
        // Streams that are sending right now: their jobs are cancelled too, and every
        // stream ends once what it holds is sent.
        for stream in streams.withLock({ Array($0.values) }) { stream.finish() }
        let deadline = DispatchTime.now() + .milliseconds(Int(wait * 1000))
        while suspended.withLock({ !$0.isEmpty }) && DispatchTime.now() < deadline { usleep(10_000) }
        for state in suspended.withLock({ Array($0.values) }) {
            // Through the responder the handler got, so its observers see the answer
            // (streams were finished above, or when queued after `stopping` was set).
            state.responder?.respond(handler.refusalResponse(.stopping))
        }
        while suspended.withLock({ !$0.isEmpty }) { usleep(1_000) }
        let d = daemon.withLock { d -> Daemon? in defer { d = nil }; return d }
        if let d { MHD_stop_daemon(d.pointer) }
        watcher.stop()
    }

    /// A usable request id: the client's if short and printable, else a new one.
    static func requestID(_ given: String?) -> String {
        if let given, !given.isEmpty, given.count <= 128,
           given.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) {
            return given
        }
        return UUID().uuidString.lowercased()
    }
}
