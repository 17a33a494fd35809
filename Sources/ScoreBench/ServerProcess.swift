import Foundation

/// `scoreserve serve` as a child process on a free loopback port, for the HTTP
/// workloads: started, polled until `/readyz` answers 200, stopped with SIGTERM.
public final class ServerProcess {
    public let process = Process()
    public private(set) var port: UInt16 = 0

    public init(executable: String, models: String, threads: Int) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        // The load generator is one address with many connections, like a proxy: no
        // per-client limit.
        process.arguments = ["serve", "--models", models, "--host", "127.0.0.1", "--port", "0",
                             "--threads", "\(threads)", "--log-level", "error", "--per-client-connection-limit", "0"]
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_NUM_THREADS"] = "1"  // see `scoreserve bench`: no idle BLAS threads spinning
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The one stdout line: "scoreserve listening on 127.0.0.1:PORT with N model(s)".
        var line = [UInt8]()
        while !line.contains(0x0A) {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { throw BenchError("scoreserve serve exited before listening") }
            line += data
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: "127.0.0.1:"),
              let p = UInt16(text[range.upperBound...].prefix { $0.isNumber }) else {
            throw BenchError("cannot read the port from '\(text)'")
        }
        port = p
        let client = HTTPClient(port: port)
        let deadline = Date().addingTimeInterval(60)
        while (try? client.request("GET", "/readyz").status) != 200 {
            guard Date() < deadline else { throw BenchError("the server did not become ready") }
            usleep(20_000)  // polling /readyz, not waiting for it blindly
        }
    }

    public var pid: Int32 { process.processIdentifier }

    public func stop() {
        guard process.isRunning else { return }
        process.interrupt()  // SIGINT: drain and exit
        process.waitUntilExit()
    }

    deinit { stop() }
}
