import Foundation
import ScoreCore

/// Probability-flow ODE methods.
enum ODEMethod: String, Sendable, CaseIterable {
    case euler, heun, rk4, rk45

    /// Network evaluations per fixed step.
    var evaluationsPerStep: Int {
        switch self {
        case .euler: 1
        case .heun: 2
        case .rk4: 4
        case .rk45: 6
        }
    }
}

/// Integrators of the probability-flow ODE over a chunk's rows, from `t0` to `t1`
/// (either direction). All buffers are allocated once per call, none per step.
enum ODESolver {
    /// Fixed-step `euler`, `heun` or `rk4` with `steps` equal intervals, all rows in lockstep.
    static func fixed(_ flow: ProbabilityFlow, method: ODEMethod, y: UnsafeMutablePointer<Double>, rows: Int,
                      from t0: Double, to t1: Double, steps: Int, control: JobControl) throws(SamplingError) {
        let n = rows * flow.width
        let ids = UnsafeMutablePointer<Int>.allocate(capacity: rows)
        let times = UnsafeMutablePointer<Double>.allocate(capacity: rows)
        let k = (0..<4).map { _ in UnsafeMutablePointer<Double>.allocate(capacity: n) }
        let stage = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { ids.deallocate(); times.deallocate(); k.forEach { $0.deallocate() }; stage.deallocate() }
        for r in 0..<rows { ids[r] = r }
        let h = (t1 - t0) / Double(steps)
        func f(_ state: UnsafePointer<Double>, _ t: Double, _ out: UnsafeMutablePointer<Double>) {
            for r in 0..<rows { times[r] = t }
            flow.evaluate(state, times: times, rows: rows, ids: ids, into: out)
        }
        for step in 0..<steps {
            try control.check()
            let t = t0 + Double(step) * h
            switch method {
            case .euler:
                f(y, t, k[0])
                for i in 0..<n { y[i] += h * k[0][i] }
            case .heun:
                f(y, t, k[0])
                for i in 0..<n { stage[i] = y[i] + h * k[0][i] }
                f(stage, t + h, k[1])
                for i in 0..<n { y[i] += 0.5 * h * (k[0][i] + k[1][i]) }
            case .rk4, .rk45:
                f(y, t, k[0])
                for i in 0..<n { stage[i] = y[i] + 0.5 * h * k[0][i] }
                f(stage, t + 0.5 * h, k[1])
                for i in 0..<n { stage[i] = y[i] + 0.5 * h * k[1][i] }
                f(stage, t + 0.5 * h, k[2])
                for i in 0..<n { stage[i] = y[i] + h * k[2][i] }
                f(stage, t + h, k[3])
                for i in 0..<n { y[i] += h / 6 * (k[0][i] + 2 * k[1][i] + 2 * k[2][i] + k[3][i]) }
            }
        }
    }

    // Dormand–Prince 5(4), as scipy's RK45 (which score_sde calls).
    private static let c: [Double] = [0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1]
    private static let a: [[Double]] = [
        [],
        [1.0 / 5],
        [3.0 / 40, 9.0 / 40],
        [44.0 / 45, -56.0 / 15, 32.0 / 9],
        [19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729],
        [9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656],
    ]
    private static let b: [Double] = [35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84]
    private static let e: [Double] = [-71.0 / 57600, 0, 71.0 / 16695, -71.0 / 1920, 17253.0 / 339200, -22.0 / 525, 1.0 / 40]

    /// A nominal count of evaluations per adaptive solve, for admission and chunk sizing
    /// (the shipped models take 70–400).
    static let nominalAdaptiveEvaluations = 200

    /// Attempted steps per row before the solve is declared divergent.
    static let maxAttempts = 100_000

    /// Adaptive Dormand–Prince 5(4) with a step size controlled *per row*: each
    /// trajectory accepts and rejects its own steps (scipy's controller: safety 0.9,
    /// factors 0.2…10, RMS error norm with `atol + rtol·max(|y|, |y_new|)`), while
    /// every stage is one batched evaluation over the rows still running.
    static func rk45(_ flow: ProbabilityFlow, y: UnsafeMutablePointer<Double>, rows: Int,
                     from t0: Double, to t1: Double, rtol: Double, atol: Double,
                     control: JobControl, firstSample: Int) throws(SamplingError) {
        let w = flow.width, n = rows * w
        let direction: Double = t1 >= t0 ? 1 : -1
        let k = (0..<7).map { _ in UnsafeMutablePointer<Double>.allocate(capacity: n) }
        // Gather buffers for the rows evaluated together.
        let gatherY = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let gatherF = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let gatherT = UnsafeMutablePointer<Double>.allocate(capacity: rows)
        let active = UnsafeMutablePointer<Int>.allocate(capacity: rows)
        let yNew = UnsafeMutablePointer<Double>.allocate(capacity: n)
        var t = [Double](repeating: t0, count: rows)
        var h = [Double](repeating: 0, count: rows)
        var rejected = [Bool](repeating: false, count: rows)
        var attempts = [Int](repeating: 0, count: rows)
        var last = [Bool](repeating: false, count: rows)  // this step was clipped to end at t1
        defer {
            k.forEach { $0.deallocate() }
            gatherY.deallocate(); gatherF.deallocate(); gatherT.deallocate(); active.deallocate(); yNew.deallocate()
        }
        var count = rows
        for r in 0..<rows { active[r] = r }

        /// Evaluates F at `state(r)` / `time(r)` for the active rows into `out` (row-indexed).
        func batch(_ out: UnsafeMutablePointer<Double>, time: (Int) -> Double,
                   state: (Int, UnsafeMutablePointer<Double>) -> Void) {
            for q in 0..<count {
                let r = active[q]
                state(r, gatherY + q * w)
                gatherT[q] = time(r)
            }
            flow.evaluate(gatherY, times: gatherT, rows: count, ids: active, into: gatherF)
            for q in 0..<count { (out + active[q] * w).update(from: gatherF + q * w, count: w) }
        }
        func rms(_ v: (Int) -> Double) -> Double {
            var s = 0.0
            for j in 0..<w { let x = v(j); s += x * x }
            return (s / Double(w)).squareRoot()
        }

        // scipy's initial step: h0 from |y|, |f|, then refined with one Euler probe.
        batch(k[0], time: { t[$0] }, state: { r, dst in dst.update(from: y + r * w, count: w) })
        for r in 0..<rows {
            let yr = y + r * w, fr = k[0] + r * w
            let d0 = rms { yr[$0] / (atol + abs(yr[$0]) * rtol) }
            let d1 = rms { fr[$0] / (atol + abs(yr[$0]) * rtol) }
            h[r] = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1
        }
        batch(k[1], time: { t[$0] + direction * h[$0] },
              state: { r, dst in for j in 0..<w { dst[j] = y[r * w + j] + direction * h[r] * k[0][r * w + j] } })
        for r in 0..<rows {
            let yr = y + r * w, f0 = k[0] + r * w, f1 = k[1] + r * w
            let d1 = rms { f0[$0] / (atol + abs(yr[$0]) * rtol) }
            let d2 = rms { (f1[$0] - f0[$0]) / (atol + abs(yr[$0]) * rtol) } / h[r]
            let h1 = (d1 <= 1e-15 && d2 <= 1e-15) ? Swift.max(1e-6, h[r] * 1e-3) : Foundation.pow(0.01 / Swift.max(d1, d2), 1.0 / 5)
            h[r] = Swift.min(100 * h[r], h1, abs(t1 - t0))
        }

        while count > 0 {
            try control.check()
            // Clip each step so it ends exactly at t1.
            for q in 0..<count {
                let r = active[q]
                last[r] = direction * (t[r] + direction * h[r] - t1) >= 0
                if last[r] { h[r] = abs(t1 - t[r]) }
            }
            for s in 1..<6 {
                batch(k[s], time: { t[$0] + direction * h[$0] * c[s] }, state: { r, dst in
                    let hs = direction * h[r]
                    for j in 0..<w {
                        var acc = 0.0
                        for m in 0..<s { acc += a[s][m] * k[m][r * w + j] }
                        dst[j] = y[r * w + j] + hs * acc
                    }
                })
            }
            for q in 0..<count {
                let r = active[q], hs = direction * h[r]
                for j in 0..<w {
                    var acc = 0.0
                    for m in 0..<6 { acc += b[m] * k[m][r * w + j] }
                    yNew[r * w + j] = y[r * w + j] + hs * acc
                }
            }
            batch(k[6], time: { t[$0] + direction * h[$0] }, state: { r, dst in dst.update(from: yNew + r * w, count: w) })

            var kept = 0
            for q in 0..<count {
                let r = active[q], hs = direction * h[r]
                attempts[r] += 1
                var sum = 0.0
                var finite = true
                for j in 0..<w {
                    var err = 0.0
                    for m in 0..<7 { err += e[m] * k[m][r * w + j] }
                    err *= hs
                    let yn = yNew[r * w + j]
                    finite = finite && yn.isFinite && err.isFinite
                    let scale = atol + Swift.max(abs(y[r * w + j]), abs(yn)) * rtol
                    sum += (err / scale) * (err / scale)
                }
                guard finite else {
                    throw .nonFinite("sample \(firstSample + r) became non-finite in the ODE solver")
                }
                guard attempts[r] <= maxAttempts, h[r] > 1e-14 * Swift.max(1, abs(t[r])) else {
                    throw .nonFinite("sample \(firstSample + r): the adaptive ODE solver could not meet the tolerances")
                }
                let norm = (sum / Double(w)).squareRoot()
                if norm < 1 {
                    var factor = norm == 0 ? 10 : Swift.min(10, 0.9 * Foundation.pow(norm, -0.2))
                    if rejected[r] { factor = Swift.min(1, factor) }
                    let reached = last[r]
                    t[r] = reached ? t1 : t[r] + hs
                    (y + r * w).update(from: yNew + r * w, count: w)
                    (k[0] + r * w).update(from: k[6] + r * w, count: w)  // first same as last
                    h[r] *= factor
                    rejected[r] = false
                    if reached { continue }  // row done
                } else {
                    h[r] *= Swift.max(0.2, 0.9 * Foundation.pow(norm, -0.2))
                    rejected[r] = true
                }
                active[kept] = r
                kept += 1
            }
            count = kept
        }
    }
}
