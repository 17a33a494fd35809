/// How the transport listens and what it accepts.
public struct HTTPServerConfiguration: Sendable {
    /// Numeric address or `localhost`; 127.0.0.1 unless told otherwise.
    public var host = "127.0.0.1"
    /// 0 picks a free port (see `HTTPServer.port`).
    public var port: UInt16 = 8080
    /// libmicrohttpd's threads (each with its own epoll loop); they only move bytes.
    public var threads = 4
    /// Open connections at most; more are refused by libmicrohttpd.
    public var connectionLimit = 1024
    /// Open connections from one client address at most (libmicrohttpd's per-IP
    /// limit), so one client cannot fill the table; 0 for none. Behind a proxy every
    /// request comes from the proxy's few addresses: set 0 there (the proxy limits its
    /// clients itself).
    public var perClientConnectionLimit = 64
    /// Seconds a connection may take to deliver a request's head, counted from its
    /// opening or from its last answer (so also the longest idle keep-alive), and then
    /// again its body; past it the connection is closed. 0 for no deadline.
    public var requestDeadlineSeconds = 10.0
    /// Seconds without any traffic after which libmicrohttpd closes a connection.
    public var connectionTimeoutSeconds = 120
    /// Largest request body; larger ones get 413 (from `Content-Length` before reading,
    /// for chunked bodies once they pass it).
    public var maxBodyBytes = 16 << 20

    public init() {}
}
