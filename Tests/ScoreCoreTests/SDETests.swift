import Foundation
import Testing
import ScoreCore

@Suite("SDE coefficients")
struct SDETests {
    static let vp = SDE(kind: .vp)
    static let subvp = SDE(kind: .subvp)
    static let ve = SDE(kind: .ve)
    static let vePower = SDE(kind: .vePower)
    static let all = [vp, subvp, ve, vePower]

    /// Reference values computed with mpmath at 40 digits from the closed forms of
    /// the model format (beta 0.1–20, sigma 0.01–50, sigma 25).
    /// (sde, t, a_t, σ_t, g(t))
    static let references: [(SDE, Double, Double, Double, Double)] = [
        (vp, 1e-5, 0.99999949950262524885, 0.0010004971259352383328, 0.31654225626288822547),
        (vp, 0.3, 0.62955000033644882472, 0.77695997134754457354, 2.4637369989509838101),
        (vp, 1.0, 0.0065715864949296150141, 0.99997840689233868011, 4.4721359549995793928),
        (subvp, 1e-5, 0.99999949950262524885, 1.0009944990046721521e-6, 0.00044788078236640560146),
        (subvp, 0.3, 0.62955000033644882472, 0.60366679707637728468, 2.2619735526791722786),
        (subvp, 1.0, 0.0065715864949296150141, 0.9999568142509396587, 4.4721359508292926629),
        (ve, 1e-5, 1, 0.010000851755591461341, 0.041276250233257104552),
        (ve, 0.3, 1, 0.12873332935452238199, 0.53131765630129713693),
        (ve, 1.0, 1, 50.0, 206.36367402496299599),
        (vePower, 1e-5, 1, 0.0031623285557465465614, 1.0000321892763123194),
        (vePower, 0.3, 1, 0.95721422106158981877, 2.6265278044037672365),
        (vePower, 1.0, 1, 9.8452145629894446943, 25.0),
    ]

    @Test("marginal mean, std and diffusion match 40-digit closed forms", arguments: 0..<references.count)
    func closedForms(_ i: Int) {
        let (sde, t, a, s, g) = Self.references[i]
        // 1e-13 relative: Float64 with expm1 keeps ~15 digits even at t = 1e-5, where
        // a naive 1 − e^{2m} would lose ~5 of them (and fail this bound).
        #expect(abs(sde.meanCoefficient(t) - a) <= 1e-13 * a, "\(sde.kind) a_t at t=\(t)")
        #expect(abs(sde.marginalStd(t) - s) <= 1e-13 * s, "\(sde.kind) σ_t at t=\(t)")
        #expect(abs(sde.diffusion(t) - g) <= 1e-13 * g, "\(sde.kind) g at t=\(t)")
    }

    /// The marginals must solve the moment ODEs of the forward SDE:
    /// da/dt = b(t)·a and dΣ/dt = 2b(t)Σ + g(t)², Σ = σ_t² (for `ve` score_sde's σ(t)
    /// obeys the same variance ODE). This ties drift and diffusion to the marginals.
    @Test("marginals solve the forward moment equations", arguments: [vp, subvp, ve, vePower])
    func momentEquations(_ sde: SDE) {
        for t in [0.01, 0.1, 0.37, 0.8, 0.99] {
            let h = 1e-5
            let dA = (sde.meanCoefficient(t + h) - sde.meanCoefficient(t - h)) / (2 * h)
            let v = { (t: Double) in sde.marginalStd(t) * sde.marginalStd(t) }
            let dV = (v(t + h) - v(t - h)) / (2 * h)
            let a = sde.meanCoefficient(t), g = sde.diffusion(t), b = sde.driftCoefficient(t)
            #expect(abs(dA - b * a) <= 1e-7 * max(1, abs(b * a)), "\(sde.kind) da/dt at t=\(t)")
            let rhs = 2 * b * v(t) + g * g
            #expect(abs(dV - rhs) <= 1e-6 * max(1, abs(rhs)), "\(sde.kind) dΣ/dt at t=\(t)")
        }
    }

    @Test("prior std and log-density")
    func prior() {
        #expect(Self.vp.priorStd == 1)
        #expect(Self.subvp.priorStd == 1)
        #expect(Self.ve.priorStd == 50)
        #expect(abs(Self.vePower.priorStd - 9.8452145629894446943) < 1e-12)
        let z = [0.3, -1.2, 2.0]
        for sde in Self.all {
            let s = sde.priorStd
            let expected = z.reduce(0) { $0 - 0.5 * log(2 * Double.pi * s * s) - $1 * $1 / (2 * s * s) }
            #expect(abs(sde.priorLogDensity(z) - expected) < 1e-12, "\(sde.kind)")
        }
    }

    @Test("default eps per SDE family, and log-SNR")
    func defaults() {
        #expect(Self.vp.samplingEps == 1e-3 && Self.subvp.samplingEps == 1e-3)
        #expect(Self.ve.samplingEps == 1e-5 && Self.vePower.samplingEps == 1e-5)
        #expect(Self.all.allSatisfy { $0.likelihoodEps == 1e-5 })
        let t = 0.3
        #expect(abs(Self.vp.logSNR(t) - log(0.62955000033644882472 / 0.77695997134754457354)) < 1e-13)
    }

    @Test("discrete index follows score_sde's (t·(N−1)/T).long() on the linspace(T, eps, N) grid")
    func discreteIndexOnGrid() {
        for (sde, n) in [(Self.vp, 1000), (Self.ve, 2000), (Self.vp, 2), (Self.ve, 17)] {
            let eps = sde.samplingEps
            for k in 0..<n {
                let t = sde.T - Double(k) * (sde.T - eps) / Double(n - 1)
                #expect(sde.discreteIndex(t, steps: n) == n - 1 - k || (k == 0 && sde.discreteIndex(t, steps: n) == n - 1))
            }
        }
    }

    @Test("DDPM and SMLD discretisations match score_sde")
    func discreteSchedules() {
        let n = 1000
        // VP at t = T uses β_{N−1} = β1/N.
        let top = Self.vp.discretize(1, steps: n)
        #expect(abs(top.G - (20.0 / 1000).squareRoot()) < 1e-15)
        #expect(abs(top.driftScale - ((1 - 0.02).squareRoot() - 1)) < 1e-15)
        // VP at the smallest index uses β0/N.
        let bottom = Self.vp.discretize(1e-3, steps: n)
        #expect(abs(bottom.G - (0.1 / 1000).squareRoot()) < 1e-15)
        let anc = Self.vp.ancestralStep(1, steps: n)!
        #expect(abs(anc.scoreScale - 0.02) < 1e-15)
        #expect(abs(anc.xScale - 1 / 0.98.squareRoot()) < 1e-14)
        #expect(abs(anc.noiseStd - 0.02.squareRoot()) < 1e-15)
        // VE: σ_i = exp(linspace(log σmin, log σmax, N)); index 0 has no adjacent σ.
        #expect(abs(Self.ve.discreteSigma(n - 1, steps: n) - 50) < 1e-12)
        #expect(abs(Self.ve.discreteSigma(0, steps: n) - 0.01) < 1e-15)
        let s1 = Self.ve.discreteSigma(n - 1, steps: n), s0 = Self.ve.discreteSigma(n - 2, steps: n)
        let veTop = Self.ve.discretize(1, steps: n)
        #expect(veTop.driftScale == 0)
        #expect(abs(veTop.G - (s1 * s1 - s0 * s0).squareRoot()) < 1e-12)
        let veBottom = Self.ve.ancestralStep(1e-5, steps: n)!
        #expect(abs(veBottom.scoreScale - 0.0001) < 1e-15)
        #expect(veBottom.noiseStd == 0)
        let veAnc = Self.ve.ancestralStep(1, steps: n)!
        #expect(abs(veAnc.noiseStd - (s0 * s0 * (s1 * s1 - s0 * s0) / (s1 * s1)).squareRoot()) < 1e-12)
        // Sub-VP and ve_power use Euler–Maruyama: f·dt and g·√dt; no ancestral step.
        let em = Self.subvp.discretize(0.5, steps: n)
        #expect(abs(em.driftScale - Self.subvp.driftCoefficient(0.5) / 1000) < 1e-16)
        #expect(abs(em.G - Self.subvp.diffusion(0.5) * (1.0 / 1000).squareRoot()) < 1e-15)
        #expect(Self.subvp.ancestralStep(0.5, steps: n) == nil)
        #expect(Self.vePower.ancestralStep(0.5, steps: n) == nil)
    }
}

@Suite("Prior sampling")
struct PriorSamplingTests {
    @Test("prior draws have the prior's std and are keyed by (seed, index)", arguments: [SDE(kind: .vp), SDE(kind: .ve), SDE(kind: .vePower)])
    func prior(_ sde: SDE) {
        // 20,000 samples of 2 coordinates: the sample variance's relative standard
        // error is √(2/40000) ≈ 0.7%; 4% is over 5 standard errors.
        let n = 20_000, d = 2
        var all = [Double](repeating: 0, count: n * d)
        all.withUnsafeMutableBufferPointer { buffer in
            for i in 0..<n {
                sde.samplePrior(seed: 77, index: UInt64(i), into: UnsafeMutableBufferPointer(rebasing: buffer[(i * d)..<((i + 1) * d)]))
            }
        }
        let variance = all.reduce(0) { $0 + $1 * $1 } / Double(all.count)
        #expect(abs(variance / (sde.priorStd * sde.priorStd) - 1) < 0.04)
        var again = [Double](repeating: 0, count: d)
        again.withUnsafeMutableBufferPointer { sde.samplePrior(seed: 77, index: 123, into: $0) }
        #expect(again == Array(all[246..<248]))
    }
}
