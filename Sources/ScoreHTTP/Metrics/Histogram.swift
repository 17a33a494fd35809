extension Metrics {
    /// Upper bounds, in seconds, of the latency buckets (`+Inf` is implicit).
    static let latencyBuckets: [Double] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
    ]

    /// A Prometheus histogram's state: one count per bucket (not cumulative; the
    /// exposition accumulates), the sum and the count of the observations.
    struct Histogram: Sendable {
        /// Bucket upper bounds, ascending; an observation lands in the first bucket
        /// whose bound it does not exceed (`le` is inclusive), else in `+Inf`.
        let bounds: [Double]
        /// `bounds.count + 1` counts; the last is the `+Inf` overflow bucket.
        private(set) var counts: [Int]
        private(set) var sum: Double = 0
        private(set) var count: Int = 0

        init(bounds: [Double] = Metrics.latencyBuckets) {
            self.bounds = bounds
            counts = Array(repeating: 0, count: bounds.count + 1)
        }

        /// Records one observation. NaN and infinities are dropped (they would poison
        /// `_sum`); negative values count as 0 (durations cannot be negative).
        mutating func observe(_ value: Double) {
            guard value.isFinite else { return }
            let v = max(value, 0)
            var i = 0
            while i < bounds.count && v > bounds[i] { i += 1 }
            counts[i] += 1
            sum += v
            count += 1
        }

        /// Writes the `_bucket` (cumulative, ending with `le="+Inf"`), `_sum` and
        /// `_count` samples, each with `labels` before `le`.
        func write(_ name: String, labels: [(String, String)], to out: inout Metrics.Exposition) {
            var cumulative = 0
            for (i, bound) in bounds.enumerated() {
                cumulative += counts[i]
                out.sample(name + "_bucket", labels + [("le", Metrics.format(bound))], String(cumulative))
            }
            cumulative += counts[bounds.count]
            out.sample(name + "_bucket", labels + [("le", "+Inf")], String(cumulative))
            out.sample(name + "_sum", labels, Metrics.format(sum))
            out.sample(name + "_count", labels, String(count))
        }
    }
}
