import Foundation
import Testing
import ScoreCore
import ScoreSampling

/// Does every sampler, at its default number of steps, draw from the right
/// distribution? Ground truth is the exact `gmm` network of `TestModels.mixture2D`
/// (three well-separated 2-D Gaussians, weights 0.5 / 0.3 / 0.2): its score is exact at
/// every t, so any difference between the samples and the mixture is the sampler's.
///
/// Three checks on n = 500 samples of each sampler:
///  1. the energy distance to n exact mixture draws stays below a threshold calibrated
///     here from the statistic's null distribution (`Calibration`);
///  2. the recovered weights (`Statistics.componentFractions`) are within 4 binomial
///     standard deviations of 0.5 / 0.3 / 0.2;
///  3. the mean and standard deviation of each component's points (points assigned as
///     `componentFractions` does) are within 4.5 standard errors of the true values.
/// At n = 500 the energy distance alone is blind to some real errors: it does not
/// reliably see a 0.15 shift of every mean or a 1.3× scale of every std (measured while
/// writing this test). Check 3 catches both; the negative controls below show checks 1
/// and 3 each reject a wrong distribution, so these tests can fail for a real bug.
///
/// Everything is seeded, so the test is deterministic. Set `SCORESERVE_TEST_VERBOSE=1`
/// to print every statistic.
@Suite("Sampler distributions against the exact mixture", .timeLimit(.minutes(5)))
struct SamplerDistributionTests {
    /// Samples per sampler, and exact reference draws they are compared with.
    static let n = 500
    static let d = 2
    static let components = TestModels.mixture2D

    /// One engine for the whole suite: its scheduler is 2 wide, so the test cases that
    /// run in parallel share 2 cores instead of oversubscribing them.
    static let engine = SamplingEngine(threads: 2)

    static let verbose = ProcessInfo.processInfo.environment["SCORESERVE_TEST_VERBOSE"] != nil

    static var trueWeights: [Double] {
        let total = components.reduce(0) { $0 + $1.weight }
        return components.map { $0.weight / total }
    }

    // MARK: Reference and calibration

    /// n exact draws with the mixture's weights *stratified*: exactly round(n·w_k) draws
    /// of component k (250 / 150 / 100), by `SplitMix64.mixture` on each component.
    /// Without stratification the reference's own multinomial weight noise is a large
    /// part of the energy distance's spread (an unstratified reference with 0.558 of
    /// component 0 once put a correct sampler, ve pc, at 0.038, above all 400 values of
    /// an unstratified null run); with it only the tested sample's weight noise remains,
    /// and check 2 watches that separately.
    static func reference(seed: UInt64, _ mixture: [GaussianMixture.Component] = components) -> [Double] {
        var rng = SplitMix64(seed: seed)
        let total = mixture.reduce(0) { $0 + $1.weight }
        return mixture.flatMap { rng.mixture([$0], n: Int((Double(n) * $0.weight / total).rounded())).points }
    }

    /// The null distribution of the energy distance as the tests use it: n exact
    /// (unstratified) mixture draws against a stratified reference, over 100 seed pairs.
    ///
    /// Threshold: twice the largest null value. The statistic is unbiased only up to
    /// the stratification (null mean ≈ −0.004, std ≈ 0.0045) and heavy-tailed: n·ED is
    /// asymptotically a weighted sum of χ²₁ variables dominated by the weight noise. An
    /// 800-pair run done while writing this test gave q95 0.0044, q99 0.0144, max 0.0213.
    /// A rule on mean + k·std is unreliable under such tails (over 40-pair blocks of that
    /// run, mean + 6·std ranged from 0.015 to 0.032), and so is 2·max of few pairs
    /// (0.006 … 0.043 for 40 pairs). With 100 pairs the maximum is about the 99th
    /// percentile, so the threshold is ≈ 2·q99 (0.0243 with these seeds), past every one
    /// of the 800 null values (a correct sampler fails it less than 1 time in 800),
    /// while a 0.3 shift of every mean (ED 0.06 … 0.20 over 20 seeds) or weights
    /// 0.4/0.4/0.2 (ED 0.033 … 0.19, mean 0.077) land above it.
    struct Calibration: Sendable {
        let null: [Double]
        var threshold: Double { 2 * null.max()! }
        var mean: Double { null.reduce(0, +) / Double(null.count) }
        var std: Double {
            let m = mean
            return (null.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(null.count - 1)).squareRoot()
        }
        func quantile(_ q: Double) -> Double {
            let sorted = null.sorted()
            return sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))]
        }
    }

    static let calibration: Calibration = {
        let null = (0..<100).map { pair in
            var rng = SplitMix64(seed: 0xD1B5_4A32_D192_ED03 &* UInt64(pair + 1))
            let sample = rng.mixture(components, n: n).points
            return Statistics.energyDistance(sample, reference(seed: 0x8CB9_2BA7_2F3D_8DD7 &* UInt64(pair + 1)),
                                             dimension: d)
        }
        return Calibration(null: null)
    }()

    /// Tolerance on a recovered weight w: 4 binomial standard deviations, 4·√(w(1−w)/n)
    /// = 0.089, 0.082, 0.072 for w = 0.5, 0.3, 0.2 at n = 500. Not 3σ: the suite makes
    /// 81 weight checks, and at 3σ (p ≈ 0.0027 each) a correct sampler would fail one
    /// in five runs of arbitrary seeds; at 4σ (p ≈ 6e-5) one in 200. A lost or merged
    /// mode moves a weight by ≥ 0.2.
    static func weightTolerance(_ w: Double) -> Double { 4 * (w * (1 - w) / Double(n)).squareRoot() }

    /// Standard errors allowed on a component's mean and std: 4.5, for 324 such checks
    /// (p ≈ 7e-6 each, ≈ 0.2% for the suite). With m points and true std s the errors
    /// are s/√m for the mean and ≈ s/√(2(m−1)) for the std (Gaussian), e.g. 0.11 and 0.08
    /// for component 0 (m ≈ 250, s = 0.4). The components are > 6 std apart, so
    /// assigning points to the nearest one truncates nothing measurable.
    static let momentZ = 4.5

    // MARK: Checks

    struct Report {
        var energy = 0.0
        var weights: [Double] = []
        /// "component k coordinate j: mean …" lines for the moment checks.
        var moments: [String] = []
        var energyFailed = false
        var weightFailures: [String] = []
        var momentFailures: [String] = []
        /// Coordinates whose mean, and whose std, failed.
        var badMeans = 0, badStds = 0
        var failures: [String] {
            (energyFailed ? ["energy distance \(energy) ≥ threshold \(SamplerDistributionTests.calibration.threshold)"] : [])
                + weightFailures + momentFailures
        }
    }

    /// Runs the three checks on `samples` ([n × 2]) against the exact mixture;
    /// `meanAllowance` widens the mean checks by a known, justified bias.
    static func check(_ samples: [Double], referenceSeed: UInt64, meanAllowance: Double = 0) -> Report {
        var report = Report()
        report.energy = Statistics.energyDistance(samples, reference(seed: referenceSeed), dimension: d)
        report.energyFailed = !(report.energy < calibration.threshold)
        report.weights = Statistics.componentFractions(samples, components)
        for (k, w) in trueWeights.enumerated() where !(abs(report.weights[k] - w) <= weightTolerance(w)) {
            report.weightFailures.append(String(format: "weight of component %d is %.3f, expected %.2f ± %.3f",
                                                k, report.weights[k], w, weightTolerance(w)))
        }
        // Points per component, by the rule of `Statistics.componentFractions`.
        var members = [[Int]](repeating: [], count: components.count)
        for i in 0..<(samples.count / d) {
            var best = 0, bestDistance = Double.infinity
            for (k, c) in components.enumerated() {
                var s = 0.0
                for j in 0..<d { let z = (samples[i * d + j] - c.mean[j]) / c.std[j]; s += z * z }
                if s < bestDistance { bestDistance = s; best = k }
            }
            members[best].append(i)
        }
        for (k, c) in components.enumerated() {
            let m = Double(members[k].count)
            guard m >= 10 else { report.momentFailures.append("component \(k) has \(Int(m)) points"); continue }
            for j in 0..<d {
                let values = members[k].map { samples[$0 * d + j] }
                let mean = values.reduce(0, +) / m
                let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (m - 1)).squareRoot()
                let meanTolerance = momentZ * c.std[j] / m.squareRoot() + meanAllowance
                let stdTolerance = momentZ * c.std[j] / (2 * (m - 1)).squareRoot()
                let line = String(format: "component %d coordinate %d: mean %.3f (true %.2f ± %.3f), std %.3f (true %.2f ± %.3f)",
                                  k, j, mean, c.mean[j], meanTolerance, std, c.std[j], stdTolerance)
                report.moments.append(line)
                let meanOK = abs(mean - c.mean[j]) <= meanTolerance, stdOK = abs(std - c.std[j]) <= stdTolerance
                if !meanOK { report.badMeans += 1 }
                if !stdOK { report.badStds += 1 }
                if !(meanOK && stdOK) { report.momentFailures.append(line) }
            }
        }
        return report
    }

    /// Samples with `options` and checks the result. The engine is awaited rather than
    /// called through the blocking `sampleNow`: these cases run for seconds each, and
    /// with 2 cores blocking the cooperative threads would hold back every other suite
    /// (while `SamplingEngine.blocking` ran the job as a Task on that same pool, two
    /// blocked tests deadlocked the whole run).
    static func sampleAndCheck(_ model: ScoreModel, _ options: SampleOptions, referenceSeed: UInt64,
                               meanAllowance: Double = 0) async throws -> Report {
        let result = try await engine.sample(model, options)
        return check(result.samples.map(Double.init), referenceSeed: referenceSeed, meanAllowance: meanAllowance)
    }

    static func describe(_ label: String, _ r: Report, seconds: Double? = nil) -> String {
        let t = calibration.threshold
        var s = label.padding(toLength: 40, withPad: " ", startingAt: 0)
            + String(format: " ED %+.5f (%.2f of threshold)  weights [%@]", r.energy, r.energy / t,
                     r.weights.map { String(format: "%.3f", $0) }.joined(separator: ", "))
        if let seconds { s += String(format: "  %.1f s", seconds) }
        return s
    }

    // MARK: Cases

    /// One sampler configuration; everything not set is the contract's default.
    struct Case: Sendable, CustomTestStringConvertible {
        let sde: SDE.Kind
        let sampler: String
        var corrector: String? = nil
        var method: String? = nil
        var order: Int? = nil
        /// nil: the default.
        var steps: Int? = nil
        /// Known systematic error of the method at these steps, added to the mean
        /// tolerance (absolute, in data units); 0 for every sampler but one.
        var meanAllowance = 0.0
        /// Seeds of the samples and of the exact reference; set from the case's position.
        var seed: UInt64 = 0

        var testDescription: String {
            var s = "\(sde.rawValue) \(sampler)"
            if let corrector { s += " corrector=\(corrector)" }
            if let method { s += " method=\(method)" }
            if let order { s += " order=\(order)" }
            if let steps { s += " steps=\(steps)" }
            return s
        }

        var options: SampleOptions {
            var o = SampleOptions()
            o.n = SamplerDistributionTests.n
            o.seed = seed
            o.sampler = sampler
            o["corrector"] = corrector.map { .string($0) }
            o["method"] = method.map { .string($0) }
            o["order"] = order.map { .integer(Int64($0)) }
            o.steps = steps
            return o
        }
    }

    /// Every sampler under vp; a representative subset under ve and subvp: each SDE's
    /// default pc and other correctors, the stand-alone predictors, rk45 and dpm_solver
    /// order 3. Steps are always the defaults: 1000 (SDE samplers, fixed-step ode), 20
    /// (dpm_solver), adaptive (rk45); eps is the model's (1e-3 vp/subvp, 1e-5 ve).
    static let cases: [Case] = [
        // vp: the predictors alone.
        Case(sde: .vp, sampler: "euler_maruyama"),
        Case(sde: .vp, sampler: "reverse_diffusion"),
        Case(sde: .vp, sampler: "ancestral"),
        // vp: pc with its default predictor (euler_maruyama) and each corrector.
        Case(sde: .vp, sampler: "pc", corrector: "annealed_langevin"),
        Case(sde: .vp, sampler: "pc", corrector: "langevin"),
        Case(sde: .vp, sampler: "pc", corrector: "none"),
        // vp: the probability-flow ODE.
        Case(sde: .vp, sampler: "ode", method: "euler"),
        Case(sde: .vp, sampler: "ode", method: "heun"),
        Case(sde: .vp, sampler: "ode", method: "rk4"),
        Case(sde: .vp, sampler: "ode", method: "rk45"),
        // vp: DPM-Solver++.
        // Order 1 (DDIM) is first order in h: with the contract's 20 steps, h ≈ 0.48 in
        // λ and every mode comes out pulled ≈ 6% toward the origin (component 0's x mean
        // −1.877 instead of −2 on 3000 samples; −1.933 at 40 steps, −1.958 at 80, −1.980
        // at 320: the error halves with the step, a discretisation error of the method,
        // not a bug). At n = 500 that is ≈ 5 standard errors, so the 20-step case gets a
        // 0.15 allowance on the means (the energy distance, weights and stds are still
        // checked as for every sampler), and a 200-step case checks it converges to the
        // mixture with no allowance.
        Case(sde: .vp, sampler: "dpm_solver", order: 1, meanAllowance: 0.15),
        Case(sde: .vp, sampler: "dpm_solver", order: 1, steps: 200),
        Case(sde: .vp, sampler: "dpm_solver", order: 2),
        Case(sde: .vp, sampler: "dpm_solver", order: 3),
        // ve: the default pc is reverse_diffusion + annealed_langevin.
        Case(sde: .ve, sampler: "pc"),
        Case(sde: .ve, sampler: "pc", corrector: "langevin"),
        Case(sde: .ve, sampler: "pc", corrector: "none"),
        Case(sde: .ve, sampler: "euler_maruyama"),
        Case(sde: .ve, sampler: "reverse_diffusion"),
        Case(sde: .ve, sampler: "ancestral"),
        Case(sde: .ve, sampler: "ode", method: "rk45"),
        Case(sde: .ve, sampler: "dpm_solver", order: 3),
        // subvp: the default pc is euler_maruyama without a corrector.
        Case(sde: .subvp, sampler: "pc"),
        Case(sde: .subvp, sampler: "pc", corrector: "annealed_langevin"),
        Case(sde: .subvp, sampler: "reverse_diffusion"),
        Case(sde: .subvp, sampler: "ode", method: "rk45"),
        Case(sde: .subvp, sampler: "dpm_solver", order: 3),
    ].enumerated().map { index, c in
        var c = c
        c.seed = 1_000 + UInt64(index)
        return c
    }

    // MARK: Tests

    @Test("the null distribution gives a usable threshold")
    func nullDistribution() {
        let c = Self.calibration
        if Self.verbose {
            print(String(format: "null ED over %d pairs: min %+.5f mean %+.5f std %.5f q50 %+.5f q90 %+.5f q99 %+.5f max %+.5f; threshold %.5f",
                         c.null.count, c.null.min()!, c.mean, c.std, c.quantile(0.5), c.quantile(0.9), c.quantile(0.99),
                         c.null.max()!, c.threshold))
        }
        #expect(c.null.allSatisfy { $0.isFinite })
        // A sane calibration: well above the null's bulk, and still far below what the
        // negative controls reach (≥ 0.06 for a 0.3 shift of every mean).
        #expect(c.threshold > c.quantile(0.9) + 3 * c.std)
        #expect(c.threshold < 0.06)
    }

    @Test("samples match the mixture", arguments: Self.cases)
    func matchesMixture(_ c: Case) async throws {
        let model = TestModels.gmm(SDE(kind: c.sde), components: Self.components)
        let start = ContinuousClock.now
        let report = try await Self.sampleAndCheck(model, c.options, referenceSeed: 50_000 + c.seed,
                                                   meanAllowance: c.meanAllowance)
        let elapsed = ContinuousClock.now - start
        if Self.verbose {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            print(Self.describe(c.testDescription, report, seconds: seconds))
        }
        for failure in report.failures {
            Issue.record("\(c.testDescription): \(failure)")
        }
    }

    /// Wrong distributions the checks must reject.
    enum NegativeControl: String, Sendable, CaseIterable, CustomTestStringConvertible {
        /// Every mean moved by +0.3 in each coordinate (< the smallest std, 0.4 in x for
        /// component 0): the energy distance and the mean checks must both fail.
        case shiftedMeans = "means shifted by 0.3"
        /// Every std × 1.3 (means and weights right): the energy distance at n = 500 does
        /// not reliably see it (null-sized on average); the std checks must.
        case inflatedStds = "stds × 1.3"
        /// A real sampler misused: dpm_solver with 3 steps under ve (far too few): the
        /// energy distance must fail.
        case tooFewSteps = "ve dpm_solver steps=3"

        var testDescription: String { rawValue }
    }

    @Test("negative controls: wrong distributions fail the checks", arguments: NegativeControl.allCases)
    func negativeControl(_ control: NegativeControl) async throws {
        var mixture = Self.components
        var sde = SDE(kind: .vp)
        var o = SampleOptions()
        o.n = Self.n
        o.seed = 777
        // A correct, cheap sampler (20 network evaluations) on a wrong model, or a wrong
        // sampler on the right model.
        o.sampler = "dpm_solver"
        switch control {
        case .shiftedMeans:
            mixture = mixture.map { .init(weight: $0.weight, mean: $0.mean.map { $0 + 0.3 }, std: $0.std) }
        case .inflatedStds:
            mixture = mixture.map { .init(weight: $0.weight, mean: $0.mean, std: $0.std.map { $0 * 1.3 }) }
        case .tooFewSteps:
            sde = SDE(kind: .ve)
            o.steps = 3
        }
        let report = try await Self.sampleAndCheck(TestModels.gmm(sde, components: mixture), o, referenceSeed: 90_001)
        if Self.verbose {
            print(Self.describe("negative control: \(control.rawValue)", report))
            for line in report.momentFailures { print("    " + line) }
        }
        switch control {
        case .shiftedMeans:
            #expect(report.energyFailed, "a 0.3 shift passed the energy distance: \(report.energy)")
            #expect(report.badMeans > 0, "a 0.3 shift passed the mean checks")
        case .inflatedStds:
            #expect(report.badStds > 0, "stds × 1.3 passed the std checks")
        case .tooFewSteps:
            #expect(report.energyFailed, "3 dpm_solver steps under ve passed the energy distance: \(report.energy)")
        }
    }
}
