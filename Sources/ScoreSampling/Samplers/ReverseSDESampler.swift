import Foundation
import ScoreCore

/// The reverse-SDE samplers of score_sde: `pc` (corrector, then predictor, at each of
/// `steps` times `linspace(T, eps, steps)`) and the stand-alone predictors
/// `euler_maruyama`, `reverse_diffusion` and `ancestral` (pc without a corrector).
struct ReverseSDESampler {
    let sde: SDE
    let options: ResolvedSampleOptions

    /// The times of steps 0 ..< steps: a table built from them serves `run`'s evaluations.
    static func grid(_ sde: SDE, _ options: ResolvedSampleOptions) -> [Double] {
        (0..<options.steps).map { linspaceTime($0, steps: options.steps, T: sde.T, eps: options.eps) }
    }

    /// Runs rows `first ..< first + state.rows` of the request (sample index
    /// offset + row) from the prior to eps; the result is left in `state.x`
    /// (or the last step's mean with `denoise`) in model space.
    func run(_ state: ChunkState, first: Int, control: JobControl) throws(SamplingError) {
        let d = state.dimension, rows = state.rows, n = options.steps
        let seed = options.seed
        let index = { (r: Int) in options.offset + UInt64(first + r) }
        state.drawPrior(sde: sde, seed: seed, index: index)
        state.mean.update(from: state.x, count: rows * d)

        for k in 0..<n {
            try control.check()
            let t = linspaceTime(k, steps: n, T: sde.T, eps: options.eps)
            for r in 0..<rows { state.times[r] = t }
            for j in 0..<options.correctorSteps {
                correct(state, t: t, step: k, substep: j, index: index)
            }
            predict(state, t: t, step: k, index: index)
        }
        try state.checkFinite(options.denoise ? state.mean : state.x, firstSample: first, what: "sample")
        if options.denoise { state.x.update(from: state.mean, count: rows * d) }
    }

    /// α of score_sde's Langevin correctors: 1 − β_i for vp/subvp, 1 for ve.
    private func alpha(_ t: Double) -> Double {
        switch sde.kind {
        case .vp, .subvp: 1 - sde.discreteBeta(sde.discreteIndex(t, steps: options.steps), steps: options.steps)
        case .ve, .vePower: 1
        }
    }

    /// One Langevin corrector step: x_mean = x + ε s, x = x_mean + √(2ε) z.
    private func correct(_ state: ChunkState, t: Double, step: Int, substep: Int, index: (Int) -> UInt64) {
        let d = state.dimension, rows = state.rows
        state.evaluate(state.x, count: rows, gridStep: step)
        let a = alpha(t)
        var epsilon = 0.0
        if options.corrector == .langevin {
            // score_sde: norms averaged over all of the request's samples (this chunk
            // holds all of them); a zero score norm means no move.
            var gradNorm = 0.0, noiseNorm = 0.0
            for r in 0..<rows {
                var g = 0.0
                for j in 0..<d { let s = Double(state.score[r * d + j]); g += s * s }
                gradNorm += g.squareRoot()
                Noise.normal(NoiseKey(seed: options.seed, index: index(r), step: UInt32(step), stream: .corrector(substep)),
                             into: state.noise)
                noiseNorm += state.noise.reduce(0) { $0 + $1 * $1 }.squareRoot()
            }
            gradNorm /= Double(rows)
            noiseNorm /= Double(rows)
            let ratio = gradNorm > 0 ? options.snr * noiseNorm / gradNorm : 0
            epsilon = 2 * a * ratio * ratio
        } else {
            let s = options.snr * sde.marginalStd(t)
            epsilon = 2 * a * s * s
        }
        let noiseScale = (2 * epsilon).squareRoot()
        for r in 0..<rows {
            Noise.normal(NoiseKey(seed: options.seed, index: index(r), step: UInt32(step), stream: .corrector(substep)),
                         into: state.noise)
            for j in 0..<d {
                let i = r * d + j
                let m = state.x[i] + epsilon * Double(state.score[i])
                state.mean[i] = m
                state.x[i] = m + noiseScale * state.noise[j]
            }
        }
    }

    /// One predictor step; leaves the noise-free mean in `state.mean`.
    private func predict(_ state: ChunkState, t: Double, step: Int, index: (Int) -> UInt64) {
        let d = state.dimension, rows = state.rows
        state.evaluate(state.x, count: rows, gridStep: step)
        // Every predictor is x_mean = xScale·(x + driftScale·x + scoreScale·s), x = x_mean + noise·z.
        var xScale = 1.0, driftScale = 0.0, scoreScale = 0.0, noiseScale = 0.0
        switch options.predictor {
        case .eulerMaruyama:
            // score_sde: dt = −1/N; reverse drift f − g²s; x_mean = x + drift·dt.
            let dt = -1.0 / Double(options.steps), g = sde.diffusion(t)
            driftScale = sde.driftCoefficient(t) * dt
            scoreScale = -g * g * dt
            noiseScale = g * (-dt).squareRoot()
        case .reverseDiffusion:
            let f = sde.discretize(t, steps: options.steps)
            driftScale = -f.driftScale
            scoreScale = f.G * f.G
            noiseScale = f.G
        case .ancestral:
            // Validated: vp and ve only.
            let a = sde.ancestralStep(t, steps: options.steps)!
            xScale = a.xScale
            scoreScale = a.scoreScale
            noiseScale = a.noiseStd
        }
        for r in 0..<rows {
            Noise.normal(NoiseKey(seed: options.seed, index: index(r), step: UInt32(step), stream: .predictor),
                         into: state.noise)
            for j in 0..<d {
                let i = r * d + j
                let m = xScale * (state.x[i] + driftScale * state.x[i] + scoreScale * Double(state.score[i]))
                state.mean[i] = m
                state.x[i] = m + noiseScale * state.noise[j]
            }
        }
    }
}
