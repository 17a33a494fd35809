import Foundation
import ScoreCore

/// The reverse-SDE samplers of score_sde: corrector steps, then a predictor step, at each
/// of `steps` times `linspace(T, eps, steps)`. `pc` configures both; the stand-alone
/// `euler_maruyama`, `reverse_diffusion` and `ancestral` are a predictor alone.
struct ReverseSDE: Sendable {
    /// Predictors (score_sde's `@register_predictor` classes).
    enum Predictor: String, Sendable, CaseIterable {
        case eulerMaruyama = "euler_maruyama"
        case reverseDiffusion = "reverse_diffusion"
        case ancestral
    }

    /// Correctors.
    enum Corrector: String, Sendable, CaseIterable {
        /// Per-sample step 2α(snr·σ_t)².
        case annealedLangevin = "annealed_langevin"
        /// score_sde's rule: step 2α(snr·‖z‖/‖g‖)² with norms averaged over the request.
        case langevin
        case none
    }

    let sde: SDE
    let predictor: Predictor
    let corrector: Corrector
    let snr: Double
    /// Corrector steps per time step (0 without a corrector).
    let correctorSteps: Int
    let steps: Int
    let eps: Double
    let denoise: Bool

    /// Checks the combination for the request's model; `field` is what a client set to
    /// choose the predictor (`predictor` for pc, `sampler` for a stand-alone one).
    init(_ request: SampleRequest, predictor: Predictor, blaming field: String,
         corrector: Corrector = .none, snr: Double = 0, correctorSteps: Int = 0) throws(SamplingError) {
        let sde = request.sde, steps = request.steps
        if predictor == .ancestral {
            try check([.vp, .ve, .vpDiscrete].contains(sde.kind), field,
                      "ancestral sampling is defined for vp, vp_discrete and ve SDEs, not \(sde.kind.rawValue)")
        }
        // The DDPM discretisation of vp (reverse diffusion, ancestral) takes steps of
        // β_i ≤ β_max/N, whose √(1 − β_i) needs β_max/N ≤ 1: fewer steps give NaNs.
        // Ancestral steps divide by √(1 − β_i), so there β_max/N must stay below 1.
        if sde.kind == .vp && predictor == .reverseDiffusion {
            try check(Double(steps) >= sde.betaMax, "steps", """
                must be at least beta_max (\(sde.betaMax)) for reverse_diffusion on a vp SDE: its DDPM \
                discretisation has β_i up to beta_max/steps, and √(1 − β_i) needs it at most 1; got \(steps)
                """)
        }
        if sde.kind == .vp && predictor == .ancestral {
            try check(Double(steps) > sde.betaMax, "steps", """
                must exceed beta_max (\(sde.betaMax)) for ancestral on a vp SDE: its DDPM steps divide by \
                √(1 − β_i) with β_i up to beta_max/steps, which must stay below 1; got \(steps)
                """)
        }
        self.sde = sde
        self.predictor = predictor
        self.corrector = corrector
        self.snr = snr
        self.correctorSteps = corrector == .none ? 0 : correctorSteps
        self.steps = steps
        self.eps = request.eps
        self.denoise = request.denoise ?? true
    }

    /// Network evaluations per sample.
    var evaluationsPerSample: Int { steps * (1 + correctorSteps) }

    /// The times of steps 0 ..< steps: a table built from them serves `run`'s evaluations.
    var grid: [Double] {
        (0..<steps).map { linspaceTime($0, steps: steps, T: sde.T, eps: eps) }
    }

    /// Runs the chunk's rows from x(T) (in `state.x`) to eps; the result is left in
    /// `state.x` (or the last step's mean with `denoise`) in model space. The `langevin`
    /// corrector couples every row of the request (`runCoupled`).
    func run(_ chunk: SampleChunk) throws(SamplingError) {
        if corrector == .langevin { return try runCoupled(chunk) }
        let state = chunk.state
        let d = state.dimension, rows = state.rows, n = steps
        let index = chunk.index
        state.mean.update(from: state.x, count: rows * d)

        for k in 0..<n {
            try chunk.control.check()
            let t = linspaceTime(k, steps: n, T: sde.T, eps: eps)
            for r in 0..<rows { state.times[r] = t }
            let s = snr * sde.marginalStd(t)
            let epsilon = 2 * alpha(t) * s * s
            for j in 0..<correctorSteps {
                state.evaluate(state.x, count: rows, gridStep: k)
                applyCorrector(state, epsilon: epsilon) { r in
                    Noise.stepNormal(Self.correctorKey(seed: chunk.seed, index: index(r), step: k, substep: j), into: state.noise)
                    return UnsafePointer(state.noise.baseAddress!)
                }
            }
            predict(state, t: t, step: k, seed: chunk.seed, index: index)
        }
        if denoise { state.x.update(from: state.mean, count: rows * d) }
    }

    /// The spacing of the time grid: a discrete schedule's steps span it.
    private var stepSize: Double { steps > 1 ? (sde.T - eps) / Double(steps - 1) : sde.T - eps }

    /// α of score_sde's Langevin correctors: 1 − β_i for vp/subvp (and the schedule's
    /// step β for vp_discrete), 1 for ve.
    func alpha(_ t: Double) -> Double {
        switch sde.kind {
        case .vp, .subvp: 1 - sde.discreteBeta(sde.discreteIndex(t, steps: steps), steps: steps)
        case .vpDiscrete: 1 - sde.scheduleStepBeta(t, stepSize: stepSize)
        case .ve, .vePower: 1
        }
    }

    /// One Langevin corrector step on the scores in `state.score`: x_mean = x + ε s,
    /// x = x_mean + √(2ε) z, row r's z ([D]) from `noise(r)`, which may point at the row's
    /// own `state.mean` (each value is read before it is overwritten).
    func applyCorrector(_ state: ChunkState, epsilon: Double, noise: (Int) -> UnsafePointer<Double>) {
        let d = state.dimension, rows = state.rows
        let noiseScale = (2 * epsilon).squareRoot()
        for r in 0..<rows {
            let z = noise(r)
            for j in 0..<d {
                let i = r * d + j, zj = z[j]
                let m = state.x[i] + epsilon * Double(state.score[i])
                state.mean[i] = m
                state.x[i] = m + noiseScale * zj
            }
        }
    }

    /// The key of row `r`'s noise for corrector substep `substep` of step `step`.
    static func correctorKey(seed: UInt64, index: UInt64, step: Int, substep: Int) -> NoiseKey {
        NoiseKey(seed: seed, index: index, step: UInt32(step), stream: .corrector(substep))
    }

    /// One predictor step; leaves the noise-free mean in `state.mean`.
    func predict(_ state: ChunkState, t: Double, step: Int, seed: UInt64, index: (Int) -> UInt64) {
        let d = state.dimension, rows = state.rows
        state.evaluate(state.x, count: rows, gridStep: step)
        // Every predictor is x_mean = xScale·(x + driftScale·x + scoreScale·s), x = x_mean + noise·z.
        var xScale = 1.0, driftScale = 0.0, scoreScale = 0.0, noiseScale = 0.0
        switch predictor {
        case .eulerMaruyama:
            // score_sde: dt = −1/N; reverse drift f − g²s; x_mean = x + drift·dt.
            let dt = -1.0 / Double(steps), g = sde.diffusion(t)
            driftScale = sde.driftCoefficient(t) * dt
            scoreScale = -g * g * dt
            noiseScale = g * (-dt).squareRoot()
        case .reverseDiffusion:
            let f = sde.discretize(t, steps: steps, stepSize: stepSize)
            driftScale = -f.driftScale
            scoreScale = f.G * f.G
            noiseScale = f.G
        case .ancestral:
            // Validated: vp, vp_discrete and ve only.
            let a = sde.ancestralStep(t, steps: steps, stepSize: stepSize)!
            xScale = a.xScale
            scoreScale = a.scoreScale
            noiseScale = a.noiseStd
        }
        func update(_ r: Int, noise z: UnsafePointer<Double>) {
            for j in 0..<d {
                let i = r * d + j
                let m = xScale * (state.x[i] + driftScale * state.x[i] + scoreScale * Double(state.score[i]))
                state.mean[i] = m
                state.x[i] = m + noiseScale * z[j]
            }
        }
        let key = NoiseKey(seed: seed, index: 0, step: UInt32(step), stream: .predictor)
        var r = 0
        if d <= 4 {
            // Rows of a few values: eight rows' draws at once (the same bits as one by one).
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 8 * d) { z in
                while r + 8 <= rows {
                    let indices = SIMD8(index(r), index(r + 1), index(r + 2), index(r + 3),
                                        index(r + 4), index(r + 5), index(r + 6), index(r + 7))
                    Noise.stepNormals(key, indices: indices, dimension: d, into: z.baseAddress!)
                    for q in 0..<8 { update(r + q, noise: z.baseAddress! + q * d) }
                    r += 8
                }
            }
        }
        while r < rows {
            var rowKey = key
            rowKey.index = index(r)
            Noise.stepNormal(rowKey, into: state.noise)
            update(r, noise: state.noise.baseAddress!)
            r += 1
        }
    }
}

/// A sampler that is a configured `ReverseSDE`: every row steps through the same time
/// grid, so the engine precomputes the grid's time conditioning once per job.
protocol ReverseSDESampler: Sampler {
    var process: ReverseSDE { get }
}

extension ReverseSDESampler {
    var evaluationsPerSample: Int { process.evaluationsPerSample }
    func sharedTimeGrid(maxSteps: Int) -> [Double]? { process.steps <= maxSteps ? process.grid : nil }
    func run(_ chunk: SampleChunk) throws(SamplingError) { try process.run(chunk) }
}
