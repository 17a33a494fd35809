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
    /// Seconds an idle connection is kept.
    public var connectionTimeoutSeconds = 120
    /// Largest request body; larger ones get 413 (from `Content-Length` before reading,
    /// for chunked bodies once they pass it).
    public var maxBodyBytes = 16 << 20

    public init() {}
}
