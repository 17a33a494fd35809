import Foundation
import Testing
import ScoreCore
import ScoreTraining

/// The seed notes' theorem, numerically: denoising score matching equals explicit score
/// matching plus a constant that does not depend on the network (Vincent 2011), so the
/// two objectives have the same gradients.
@Suite("Denoising score matching = explicit score matching + constant")
struct ScoreMatchingTheoremTests {
    static let sde = SDE(kind: .vp)
    static let mixture = GaussianMixture(sde: sde, components: [
        .init(weight: 0.6, mean: [-1.5, 0.5], std: [0.4, 0.3]),
        .init(weight: 0.4, mean: [1.5, -0.5], std: [0.3, 0.5]),
    ])
    static let layout = MLPLayout(dimension: 2, hidden: 16, blocks: 2, embedDim: 8)
    static let rows = 256

    /// Per-sample DSM and ESM losses of network `p` on `n` draws (x0 from the mixture,
    /// t ~ U(0.01, 1), z ~ N(0, I), all from `seed`), and both objectives' gradients.
    static func objectives(_ p: [Float], n: Int, seed: UInt64)
        -> (dsm: [Double], esm: [Double], gradDSM: [Float], gradESM: [Float]) {
        let d = 2
        var rng = SplitMix64(seed: seed)
        var dsm: [Double] = [], esm: [Double] = []
        var gradDSM = [Float](repeating: 0, count: layout.count), gradESM = gradDSM
        let backprop = MLPBackprop(layout: layout, rows: rows)
        let weights = mixture.weights
        for _ in 0..<(n / rows) {
            var x = [Float](repeating: 0, count: rows * d), times = [Double](repeating: 0, count: rows)
            var minusZ = [Float](repeating: 0, count: rows * d), sigmaScore = minusZ
            for r in 0..<rows {
                let k = rng.uniform() < weights[0] ? 0 : 1
                let c = mixture.components[k]
                let x0 = (0..<d).map { c.mean[$0] + c.std[$0] * rng.normal() }
                let t = 0.01 + 0.99 * rng.uniform()
                let a = sde.meanCoefficient(t), s = sde.marginalStd(t)
                let z = (0..<d).map { _ in rng.normal() }
                let xt = (0..<d).map { a * x0[$0] + s * z[$0] }
                let g = mixture.score(xt, t: t)
                times[r] = t
                for j in 0..<d {
                    x[r * d + j] = Float(xt[j])
                    minusZ[r * d + j] = Float(-z[j])
                    sigmaScore[r * d + j] = Float(s * g[j])
                }
            }
            let weight = 1 / Float(n)
            for (target, grad) in [(minusZ, 0), (sigmaScore, 1)] {
                var g = grad == 0 ? gradDSM : gradESM
                _ = p.withUnsafeBufferPointer { pp in x.withUnsafeBufferPointer { xp in times.withUnsafeBufferPointer { tp in
                    target.withUnsafeBufferPointer { yp in g.withUnsafeMutableBufferPointer { gp in
                        backprop.lossAndGradient(pp.baseAddress!, x: xp.baseAddress!, times: tp.baseAddress!,
                                                 target: yp.baseAddress!, used: rows, weight: weight, grad: gp.baseAddress!)
                    } }
                } } }
                let o = backprop.output
                for r in 0..<rows {
                    var loss = 0.0
                    for j in 0..<d { let diff = Double(o[r * d + j]) - Double(target[r * d + j]); loss += diff * diff }
                    if grad == 0 { dsm.append(loss) } else { esm.append(loss) }
                }
                if grad == 0 { gradDSM = g } else { gradESM = g }
            }
        }
        return (dsm, esm, gradDSM, gradESM)
    }

    static func norm(_ v: [Float]) -> Double { v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

    @Test("J_DSM − J_ESM is the same constant for every network, and the gradients agree")
    func theorem() {
        let n = 16_384
        // Networks at different parameter settings: several initialisations, one scaled up.
        var settings = (1...3).map { Self.layout.initialParameters(seed: UInt64($0), fourierScale: 4) }
        settings.append(settings[0].map { $0 * 1.5 })
        let results = settings.map { Self.objectives($0, n: n, seed: 99) }  // common random numbers
        let differences = results.map { r in zip(r.dsm, r.esm).map { $0 - $1 } }
        let means = differences.map { $0.reduce(0, +) / Double(n) }
        // The differences between two networks' (DSM − ESM) are, per sample,
        // 2(o₁ − o₂)·(z + σ∇log p_t): mean zero by the theorem. Their standard error is
        // estimated from the same samples; 4 standard errors bounds a correct answer.
        for k in 1..<results.count {
            let paired = zip(differences[0], differences[k]).map { $0 - $1 }
            let mean = paired.reduce(0, +) / Double(n)
            let variance = paired.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
            let se = (variance / Double(n)).squareRoot()
            #expect(abs(mean) <= 4 * se, "network \(k): constant differs by \(mean) (se \(se))")
            // The objectives themselves differ between networks by far more than that.
            let dsmGap = abs(results[0].dsm.reduce(0, +) - results[k].dsm.reduce(0, +)) / Double(n)
            #expect(dsmGap > 20 * se, "network \(k): DSM values should differ between networks")
        }
        // The constant is E|z|² − E|σ∇log p_t|² > 0 (here D = 2 minus the ESM target's energy).
        #expect(means.allSatisfy { $0 > 0 && $0 < 2 })

        // Gradients: the difference is a zero-mean Monte Carlo term, so its size relative
        // to the gradient is small and shrinks like 1/√n.
        for r in results {
            let rel = Self.norm(zip(r.gradDSM, r.gradESM).map { $0 - $1 }) / Self.norm(r.gradESM)
            #expect(rel < 0.25, "relative gradient difference \(rel)")
        }
        let small = Self.objectives(settings[1], n: n / 4, seed: 5)
        let large = Self.objectives(settings[1], n: n * 4, seed: 6)
        let relSmall = Self.norm(zip(small.gradDSM, small.gradESM).map { $0 - $1 }) / Self.norm(small.gradESM)
        let relLarge = Self.norm(zip(large.gradDSM, large.gradESM).map { $0 - $1 }) / Self.norm(large.gradESM)
        // 16× the samples should shrink it ~4×; 2× is a loose bound a systematic gap would fail.
        #expect(relLarge < relSmall / 2, "gradient difference \(relSmall) → \(relLarge) with 16× the samples")
    }
}

@Suite("Trainer")
struct TrainerTests {
    static func trainer(seed: UInt64, objective: TrainingObjective = .dsm) -> Trainer {
        var options = TrainingOptions()
        options.objective = objective
        options.steps = 40
        options.batchSize = 200
        options.subBatch = 64
        options.seed = seed
        options.warmup = 10
        let layout = MLPLayout(dimension: 2, hidden: 16, blocks: 2, embedDim: 8)
        let data = Dataset.toy(.eightGaussians, count: 2000, seed: seed).points
        return Trainer(layout: layout, sde: SDE(kind: .vp), data: data, options: options)
    }

    @Test("training is a pure function of its options: same bits twice, and in two halves", arguments: [TrainingObjective.dsm, .ssm])
    func deterministic(_ objective: TrainingObjective) {
        let a = Self.trainer(seed: 3, objective: objective), b = Self.trainer(seed: 3, objective: objective)
        a.train(steps: 40)
        b.train(steps: 20)
        b.train(steps: 20)
        #expect(a.parameters == b.parameters)
        #expect(a.emaParameters == b.emaParameters)
        let c = Self.trainer(seed: 4, objective: objective)
        c.train(steps: 40)
        #expect(c.parameters != a.parameters)
    }

    @Test("DSM training lowers the loss on 8gaussians")
    func learns() {
        let t = Self.trainer(seed: 1)
        var first = 0.0, last = 0.0
        t.train(steps: 300) { step, loss in
            if step <= 20 { first += loss / 20 }
            if step > 280 { last += loss / 20 }
        }
        // The DSM loss starts near E|o + z|² ≈ D = 2 and must fall well below it.
        #expect(last < 0.8 * first, "loss \(first) → \(last)")
    }
}
