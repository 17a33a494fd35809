/// A running job's progress as a client sees it (the HTTP event stream and the CLI's
/// progress line): the fraction of its nominal network evaluations done, the steps done
/// per row, and the time spent and left.
public struct ProgressReport: Sendable, Equatable {
    /// Done over nominal, below 1 until the job ends (an adaptive solver may need more
    /// evaluations than its nominal count).
    public let fraction: Double
    /// Network evaluations per row so far, and nominally in all.
    public let stepsDone: Int, stepsTotal: Int
    public let elapsedSeconds: Double
    /// Linear extrapolation from the fraction; nil before any progress.
    public let remainingSeconds: Double?

    /// The report of `progress` for a plan of `nominalEvaluations` over `rows` rows,
    /// `elapsedSeconds` after it was submitted.
    public init(_ progress: JobProgress, nominalEvaluations: Int, rows: Int, elapsedSeconds: Double) {
        let done = progress.networkEvaluations, total = Swift.max(1, nominalEvaluations)
        fraction = Swift.min(0.99, Double(done) / Double(total))
        stepsDone = done / Swift.max(1, rows)
        stepsTotal = total / Swift.max(1, rows)
        self.elapsedSeconds = elapsedSeconds
        remainingSeconds = fraction > 0 ? elapsedSeconds * (1 - fraction) / fraction : nil
    }

    /// A one-line summary for a terminal: `42% 420/1000 steps 1.2 s, ~1.7 s left`.
    public var line: String {
        let percent = Int((fraction * 100).rounded(.down))
        let left = remainingSeconds.map { String(format: ", ~%.1f s left", $0) } ?? ""
        return "\(percent)% \(stepsDone)/\(stepsTotal) steps \(String(format: "%.1f", elapsedSeconds)) s\(left)"
    }
}
