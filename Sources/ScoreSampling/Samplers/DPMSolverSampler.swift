import Foundation
import ScoreCore

/// Multistep DPM-Solver++ (Lu et al. 2022), data prediction `x0 = (x + σ_t² s)/a_t`,
/// with steps uniform in λ = log(a_t/σ_t) from T to eps. Orders 1–3; the first steps
/// use lower orders (there are not yet enough previous predictions), and so do the
/// last ones when `steps` < 15, as DPM-Solver's `lower_order_final` does. One network
/// evaluation per step; the answer is the state at eps (`denoise` adds nothing).
struct DPMSolverSampler: Sampler {
    static let name = "dpm_solver"
    static let summary = "multistep DPM-Solver++, 20 steps by default"
    static let order = RequestField.sampler(
        "order", .integer(1...3), default: 3, "dpm_solver order: multistep DPM-Solver++ of order 1–3 (default 3).")
    static let ownFields = [order]
    static let sharedFields: Set<String> = ["latents"]
    static let defaultSteps = 20

    let sde: SDE
    let steps: Int
    let order: Int
    let eps: Double

    init(_ request: SampleRequest) throws(SamplingError) {
        sde = request.sde
        steps = request.steps
        order = try request.values.int(Self.order)!
        eps = request.eps
    }

    var evaluationsPerSample: Int { steps }

    /// t_0 = T, …, t_M = eps, uniform in λ.
    func times() -> [Double] {
        let lambdaT = sde.logSNR(sde.T), lambdaEps = sde.logSNR(eps)
        return (0...steps).map { i in
            if i == 0 { return sde.T }
            if i == steps { return eps }
            return sde.time(logSNR: lambdaT + Double(i) * (lambdaEps - lambdaT) / Double(steps), in: eps...sde.T)
        }
    }

    /// Runs the chunk's rows from `state.x` (at T) to eps in place.
    func run(_ chunk: SampleChunk) throws(SamplingError) {
        let state = chunk.state, control = chunk.control
        let d = state.dimension, rows = state.rows, n = rows * d
        let ts = times()
        let lambdas = ts.map { sde.logSNR($0) }
        // The last three data predictions, newest first.
        let predictions = (0..<3).map { _ in UnsafeMutablePointer<Double>.allocate(capacity: n) }
        defer { predictions.forEach { $0.deallocate() } }
        var history = predictions

        for step in 1...steps {
            try control.check()
            let s = ts[step - 1], t = ts[step]
            for r in 0..<rows { state.times[r] = s }
            state.evaluate(state.x, count: rows)
            // Rotate: the oldest buffer receives the newest prediction.
            history = [history[2], history[0], history[1]]
            let aS = sde.meanCoefficient(s), sigmaS = sde.marginalStd(s)
            let m0 = history[0]
            for i in 0..<n { m0[i] = (state.x[i] + sigmaS * sigmaS * Double(state.score[i])) / aS }

            var stepOrder = Swift.min(order, step)
            if steps < 15 { stepOrder = Swift.min(stepOrder, steps + 1 - step) }
            let aT = sde.meanCoefficient(t), sigmaT = sde.marginalStd(t)
            let h = lambdas[step] - lambdas[step - 1]
            let phi1 = Foundation.expm1(-h)
            let ratio = sigmaT / sigmaS
            switch stepOrder {
            case 1:
                for i in 0..<n { state.x[i] = ratio * state.x[i] - aT * phi1 * m0[i] }
            case 2:
                let r0 = (lambdas[step - 1] - lambdas[step - 2]) / h
                let m1 = history[1]
                for i in 0..<n {
                    let d10 = (m0[i] - m1[i]) / r0
                    state.x[i] = ratio * state.x[i] - aT * phi1 * m0[i] - 0.5 * aT * phi1 * d10
                }
            default:
                let r0 = (lambdas[step - 1] - lambdas[step - 2]) / h
                let r1 = (lambdas[step - 2] - lambdas[step - 3]) / h
                let phi2 = phi1 / h + 1, phi3 = phi2 / h - 0.5
                let m1 = history[1], m2 = history[2]
                for i in 0..<n {
                    let d10 = (m0[i] - m1[i]) / r0, d11 = (m1[i] - m2[i]) / r1
                    let d1 = d10 + r0 / (r0 + r1) * (d10 - d11)
                    let d2 = (d10 - d11) / (r0 + r1)
                    state.x[i] = ratio * state.x[i] - aT * phi1 * m0[i] + aT * phi2 * d1 - aT * phi3 * d2
                }
            }
        }
    }
}

extension SDE {
    /// The time in `range` whose λ(t) = log(a_t/σ_t) equals `lambda` (λ decreases in t),
    /// by bisection in Float64.
    public func time(logSNR lambda: Double, in range: ClosedRange<Double>) -> Double {
        var lo = range.lowerBound, hi = range.upperBound
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if mid <= lo || mid >= hi { break }
            if logSNR(mid) > lambda { lo = mid } else { hi = mid }
        }
        return 0.5 * (lo + hi)
    }
}
