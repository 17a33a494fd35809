import ArgumentParser
import Foundation
import ScoreBench

/// A probe for container health checks: the runtime image has no curl, and needs none.
struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Probe a local server's health endpoint; exit 0 when it answers 200.",
        discussion: """
            For container health checks (the image's HEALTHCHECK runs it). The port
            defaults to SCORESERVE_PROBE_PORT when it is set and not 0 (the probe
            listener, which API clients cannot crowd out), else SCORESERVE_PORT, as for
            `serve`.

            Examples:
              scoreserve health                       # GET http://127.0.0.1:$SCORESERVE_PORT/healthz
              scoreserve health --path /readyz --port 9000
            """)

    @Option(help: "Port on 127.0.0.1. [SCORESERVE_PROBE_PORT or SCORESERVE_PORT, default 8080]") var port: Int?
    @Option(help: "Path to GET.") var path = "/healthz"
    @Option(help: "Give up after this many seconds.") var timeout = 3

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        let probe = env["SCORESERVE_PROBE_PORT"].flatMap { Int($0) }.flatMap { $0 == 0 ? nil : $0 }
        guard let p = port ?? probe ?? (env["SCORESERVE_PORT"].map { Int($0) } ?? 8080), (1...65535).contains(p) else {
            throw ValidationError("the port must be 1…65535 (from --port, SCORESERVE_PROBE_PORT or SCORESERVE_PORT)")
        }
        // A server that accepts but never answers must not hang the probe: SIGALRM ends it.
        alarm(UInt32(max(1, timeout)))
        let status: Int
        do { status = try HTTPClient(port: UInt16(p)).request("GET", path).status } catch {
            print("unhealthy: cannot reach 127.0.0.1:\(p)\(path): \(error)")
            throw ExitCode.failure
        }
        guard status == 200 else {
            print("unhealthy: GET \(path) answered \(status)")
            throw ExitCode.failure
        }
        print("healthy: GET \(path) answered 200")
    }
}
