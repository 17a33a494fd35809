import Synchronization

/// The server's Prometheus metrics: a small thread-safe registry and its text
/// exposition (format 0.0.4, served as `text/plain; version=0.0.4; charset=utf-8`).
///
/// Every metric is named `scoreserve_…`, in base units (seconds), with `_total` on
/// counters. All state sits behind one `Mutex`; updates are a few additions under it,
/// and `exposition()` copies the state out and formats it outside the lock. Series are
/// written sorted by their label values, so the output is deterministic.
///
/// Label values are free text and are escaped, but each distinct value is a series
/// for ever: callers pass route templates (not raw paths), and a fixed set of methods
/// and rejection reasons.
///
/// The server writes request metrics from one place, `RequestRecorder`, and reads the
/// engine's counters (steps, network evaluations) at exposition time.
public final class Metrics: Sendable {
    /// The rejection reasons the server uses (the error table's and `cancelled`); their
    /// series exist (at 0) from the start.
    static let rejectionReasons = ErrorStatus.rejectionReasons

    /// Labels of one `scoreserve_http_requests_total` series.
    struct RequestKey: Hashable, Comparable {
        var route: String
        var method: String
        var code: Int

        static func < (a: RequestKey, b: RequestKey) -> Bool {
            (a.route, a.method, a.code) < (b.route, b.method, b.code)
        }
    }

    struct State {
        var requests: [RequestKey: Int] = [:]
        var durations: [String: Histogram] = [:]
        var requestsInFlight = 0
        var rejected: [String: Int] = [:]
        var queueWait = Histogram()
        var workInFlight = 0
        var samples = 0
        var engineSteps: (@Sendable () -> Int)? = nil
        var networkEvaluations: (@Sendable () -> Int)? = nil
        var modelsLoaded = 0
        var ready = false
    }

    private let state: Mutex<State>

    /// Creates a registry with every metric at 0 and the server not ready.
    ///
    /// - Parameter routes: the route labels known up front (templates such as
    ///   `/v1/models/{model}/sample`); their request-duration series exist, at 0, before
    ///   the first request, as do the series of every rejection reason.
    public init(routes: [String] = []) {
        var s = State()
        for route in routes { s.durations[route] = Histogram() }
        for reason in Self.rejectionReasons { s.rejected[reason] = 0 }
        state = Mutex(s)
    }

    /// Records one finished request: adds 1 to `scoreserve_http_requests_total{route,
    /// method,code}` and observes `seconds` in
    /// `scoreserve_http_request_duration_seconds{route}`.
    ///
    /// `route` should be the matched route's template, not the raw path. A non-finite
    /// duration counts the request but is not observed; a negative one observes 0.
    public func observeRequest(route: String, method: String, status: Int, seconds: Double) {
        state.withLock { s in
            s.requests[RequestKey(route: route, method: method, code: status), default: 0] += 1
            s.durations[route, default: Histogram()].observe(seconds)
        }
    }

    /// Observes how long a job waited for the scheduler before it started, in
    /// `scoreserve_queue_wait_seconds` (non-finite values are dropped).
    public func observeQueueWait(seconds: Double) {
        state.withLock { $0.queueWait.observe(seconds) }
    }

    /// A request began: adds 1 to the `scoreserve_http_requests_in_flight` gauge. Pair
    /// each call with one `requestFinished()`.
    public func requestStarted() {
        state.withLock { $0.requestsInFlight += 1 }
    }

    /// A request ended (answered or abandoned): subtracts 1 from
    /// `scoreserve_http_requests_in_flight`.
    public func requestFinished() {
        state.withLock { $0.requestsInFlight -= 1 }
    }

    /// Counts a request turned away, in `scoreserve_rejected_requests_total{reason}`.
    ///
    /// The server's reasons are the error table's (`ErrorStatus.rejection`: `invalid`,
    /// `unauthorized`, `too_large`, `overloaded`, `draining`, `deadline`) and
    /// `cancelled`; any other string makes a new series.
    public func reject(reason: String) {
        state.withLock { $0.rejected[reason, default: 0] += 1 }
    }

    /// Adds `n` produced samples to `scoreserve_samples_total` (a counter: `n <= 0` is
    /// ignored).
    public func addSamples(_ n: Int) {
        guard n > 0 else { return }
        state.withLock { $0.samples += n }
    }

    /// Sets the `scoreserve_work_in_flight` gauge: the admitted work, in
    /// sample × step units.
    public func setWorkInFlight(_ units: Int) {
        state.withLock { $0.workInFlight = units }
    }

    /// Sets where `scoreserve_engine_steps_total` comes from: `provider` is called at
    /// each exposition (outside the registry's lock) and should read the engine's own
    /// monotonic counter. Until it is set the counter reads 0; negative values read 0.
    public func setEngineSteps(_ provider: @escaping @Sendable () -> Int) {
        state.withLock { $0.engineSteps = provider }
    }

    /// Sets where `scoreserve_network_evaluations_total` comes from: `provider` is
    /// called at each exposition (outside the registry's lock) and should read the
    /// engine's counter, which grows as evaluations happen, so a long job shows in a
    /// rate while it runs. Until it is set the counter reads 0; negative values read 0.
    public func setNetworkEvaluations(_ provider: @escaping @Sendable () -> Int) {
        state.withLock { $0.networkEvaluations = provider }
    }

    /// Sets the `scoreserve_models_loaded` gauge.
    public func setModelsLoaded(_ n: Int) {
        state.withLock { $0.modelsLoaded = n }
    }

    /// Sets the `scoreserve_ready` gauge: 1 when the server takes work, else 0.
    public func setReady(_ ready: Bool) {
        state.withLock { $0.ready = ready }
    }

    /// The full text exposition (format 0.0.4): for every metric a `# HELP` and a
    /// `# TYPE` line, then its samples sorted by label values; every line ends in `\n`.
    public func exposition() -> String {
        let s = state.withLock { $0 }
        let engineSteps = max(s.engineSteps?() ?? 0, 0)
        let networkEvaluations = max(s.networkEvaluations?() ?? 0, 0)
        var out = Exposition()

        out.family("scoreserve_http_requests_total", .counter,
                   "HTTP requests answered, by route template, method and status code.")
        for (key, n) in s.requests.sorted(by: { $0.key < $1.key }) {
            out.sample("scoreserve_http_requests_total",
                       [("route", key.route), ("method", key.method), ("code", String(key.code))],
                       String(n))
        }

        out.family("scoreserve_http_request_duration_seconds", .histogram,
                   "Time from receiving a request to answering it, by route template.")
        for (route, h) in s.durations.sorted(by: { $0.key < $1.key }) {
            h.write("scoreserve_http_request_duration_seconds", labels: [("route", route)], to: &out)
        }

        out.family("scoreserve_http_requests_in_flight", .gauge,
                   "HTTP requests being handled now.")
        out.sample("scoreserve_http_requests_in_flight", [], String(s.requestsInFlight))

        out.family("scoreserve_rejected_requests_total", .counter,
                   "Requests turned away, by reason.")
        for (reason, n) in s.rejected.sorted(by: { $0.key < $1.key }) {
            out.sample("scoreserve_rejected_requests_total", [("reason", reason)], String(n))
        }

        out.family("scoreserve_queue_wait_seconds", .histogram,
                   "Time admitted jobs waited for the scheduler before starting.")
        s.queueWait.write("scoreserve_queue_wait_seconds", labels: [], to: &out)

        out.family("scoreserve_work_in_flight", .gauge,
                   "Admitted work not yet finished, in sample x step units.")
        out.sample("scoreserve_work_in_flight", [], String(s.workInFlight))

        out.family("scoreserve_network_evaluations_total", .counter,
                   "Score-network evaluations.")
        out.sample("scoreserve_network_evaluations_total", [], String(networkEvaluations))

        out.family("scoreserve_samples_total", .counter, "Samples produced.")
        out.sample("scoreserve_samples_total", [], String(s.samples))

        out.family("scoreserve_engine_steps_total", .counter,
                   "Solver steps taken by the sampling engine.")
        out.sample("scoreserve_engine_steps_total", [], String(engineSteps))

        out.family("scoreserve_models_loaded", .gauge, "Models loaded and servable.")
        out.sample("scoreserve_models_loaded", [], String(s.modelsLoaded))

        out.family("scoreserve_ready", .gauge, "1 when the server accepts work, else 0.")
        out.sample("scoreserve_ready", [], s.ready ? "1" : "0")

        return out.text
    }
}

extension Metrics {
    /// The type of a metric family, as its `# TYPE` line spells it.
    enum MetricType: String {
        case counter, gauge, histogram
    }

    /// Builds the text of an exposition, line by line.
    struct Exposition {
        private(set) var text = ""

        /// Writes a family's `# HELP` and `# TYPE` lines.
        mutating func family(_ name: String, _ type: MetricType, _ help: String) {
            text += "# HELP \(name) \(Metrics.escapeHelp(help))\n"
            text += "# TYPE \(name) \(type.rawValue)\n"
        }

        /// Writes one sample line, `name{a="x",b="y"} value` or `name value`.
        mutating func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            text += name
            if !labels.isEmpty {
                text += "{"
                text += labels.map { "\($0.0)=\"\(Metrics.escapeLabelValue($0.1))\"" }
                    .joined(separator: ",")
                text += "}"
            }
            text += " \(value)\n"
        }
    }

    /// A label value escaped for the text format: `\` → `\\`, `"` → `\"`, newline → `\n`.
    static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// HELP text escaped for the text format: `\` → `\\`, newline → `\n`.
    static func escapeHelp(_ help: String) -> String {
        var out = ""
        for scalar in help.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A number Prometheus parses: integral values of magnitude below 2^53 without a
    /// decimal point (`1`, `60`), others in Swift's shortest round-tripping form
    /// (`0.0025`, `1e-05`, `1e+20`), infinities as `+Inf`/`-Inf`, and never NaN (0).
    static func format(_ value: Double) -> String {
        if value.isNaN { return "0" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 {
            return String(Int64(value))
        }
        return value.description
    }
}
