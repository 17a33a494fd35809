import Foundation
import Testing
import ScoreCore
import ScoreSampling

/// A model whose data map is the logit transform (`data.transform: logit`), checked
/// against truth that does not use the map's own Jacobian: the data-space density the
/// engine reports must integrate to one over the data range, and the samples' mean must
/// be that density's mean.
@Suite("Logit data map against exact truth")
struct LogitDataTests {
    /// A 1-D mixture in model space; data space is 0…4 (levels 4) through
    /// x_m = (logit(α + (1 − 2α)x/4) − 0.2)/1.5. Its mass outside [0, 4] (beyond y = α
    /// or 1 − α, 4.4 and 4.3 standard deviations out) is below 1e-5.
    static func model() -> ScoreModel {
        TestModels.gmm(SDE(kind: .vp), components: [
            .init(weight: 0.6, mean: [-1], std: [0.5]),
            .init(weight: 0.4, mean: [1.2], std: [0.4]),
        ], shift: [0.2], scale: [1.5], levels: 4, transform: .logit(alpha: 0.01))
    }

    /// The engine's data-space densities on a grid of [0, 4], by the exact trace.
    static func densityGrid(_ model: ScoreModel, points n: Int) async throws -> (x: [Double], p: [Double]) {
        let xs = (0..<n).map { 4 * Double($0) / Double(n - 1) }
        var o = LikelihoodOptions()
        o.x = xs
        o["estimator"] = "exact"
        let r = try await SamplingEngine(threads: 2).likelihood(model, o)
        return (xs, r.logLikelihood.map { exp($0) })
    }

    static func trapezoid(_ x: [Double], _ f: [Double]) -> Double {
        var sum = 0.0
        for i in 1..<x.count {
            let width: Double = x[i] - x[i - 1]
            sum += 0.5 * (f[i] + f[i - 1]) * width
        }
        return sum
    }

    @Test("the likelihood's data-space density integrates to one, and ode samples have its mean")
    func densityAndSamples() async throws {
        let model = Self.model()
        let (x, p) = try await Self.densityGrid(model, points: 801)
        let mass = Self.trapezoid(x, p)
        let mean = Self.trapezoid(x, zip(x, p).map { $0 * $1 })
        let variance = Self.trapezoid(x, zip(x, p).map { ($0 - mean) * ($0 - mean) * $1 })
        // Without the map's Jacobian the mass would be ∫ p_model(x_m(x)) dx ≈ 2.6 here.
        print("[logit] mass \(mass), mean \(mean), std \(variance.squareRoot())")
        #expect(abs(mass - 1) < 2e-3)

        var o = SampleOptions()
        o.n = 2000
        o.seed = 5
        o.sampler = "ode"
        let r = try await SamplingEngine(threads: 2).sample(model, o)
        let s = r.samples.map(Double.init)
        let domain = try #require(model.data.domain)
        let inside = s.allSatisfy { domain.contains($0) }
        #expect(inside)
        let sampleMean = s.reduce(0, +) / Double(s.count)
        let standardError = (variance / Double(s.count)).squareRoot()
        print("[logit] sample mean \(sampleMean) vs \(mean) (s.e. \(standardError))")
        #expect(abs(sampleMean - mean) < 4 * standardError)
    }

    @Test("points outside the logit data range are rejected, naming x")
    func domainErrors() async throws {
        let model = Self.model(), engine = SamplingEngine(threads: 1)
        await LikelihoodTests.expectInvalid("x", "likelihood beyond the range") { () async throws(SamplingError) in
            var o = LikelihoodOptions()
            o.x = [1, 4.5]
            _ = try await engine.likelihood(model, o)
        }
        // A dequantization draw adds up to one level: 3.5 + u may leave the range.
        await LikelihoodTests.expectInvalid("x", "dequantized likelihood near the top") { () async throws(SamplingError) in
            var o = LikelihoodOptions()
            o.x = [3.5]
            o["dequantize"] = 1
            _ = try await engine.likelihood(model, o)
        }
        await LikelihoodTests.expectInvalid("x", "encode below the range") { () async throws(SamplingError) in
            var o = EncodeOptions()
            o.x = [-0.5]
            _ = try await engine.encode(model, o)
        }
        var o = LikelihoodOptions()
        o.x = [0, 3]
        o["dequantize"] = 1
        o["seed"] = 1
        let r = try await engine.likelihood(model, o)
        let finite = r.logLikelihood.allSatisfy { $0.isFinite }
        #expect(finite)
    }
}
