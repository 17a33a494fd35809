import Foundation
import Testing
import ScoreCore
import ScoreSampling

/// A diffusers UNet2DModel on its discrete schedule through the engine: per-image answers
/// do not depend on n, offsets or threads, for the samplers that use the schedule's own
/// steps and for likelihoods.
@Suite("UNet2D through the engine")
struct UNet2DSamplingTests {
    static func model() throws -> ScoreModel {
        try ScoreModel.load(directory: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/unet2d/pipeline_f16_ddpm_scaledlinear_vpred").path)
    }

    @Test("samples: threads 1 vs 2, n = 3 vs 7 and offsets give the same bits", arguments: ["ancestral", "reverse_diffusion", "dpm_solver", "pc"])
    func samples(_ sampler: String) throws {
        let model = try Self.model(), d = model.data.dimension
        var o = SampleOptions()
        o.seed = 5; o.sampler = sampler; o.steps = sampler == "dpm_solver" ? 10 : 25
        var small = o; small.n = 3
        var large = o; large.n = 7
        var shard = o; shard.n = 2; shard.offset = 4
        let a = try SamplingEngine(threads: 1).sampleNow(model, small)
        let b = try SamplingEngine(threads: 2, chunkSize: 2).sampleNow(model, large)
        let c = try SamplingEngine(threads: 2).sampleNow(model, shard)
        #expect(a.samples.map(\.bitPattern) == b.samples.prefix(3 * d).map(\.bitPattern), "\(sampler): n = 3 vs 7")
        #expect(c.samples.map(\.bitPattern) == b.samples[(4 * d)..<(6 * d)].map(\.bitPattern), "\(sampler): offset 4")
        #expect(b.samples.allSatisfy { $0.isFinite })
        // Pixels: the model's data space is 0…255; a trained model stays near it, this
        // random one only stays finite.
    }

    @Test("likelihoods: Hutchinson bits/dim of images are the same for n = 1 and n = 3, on 1 and 2 threads")
    func likelihoods() throws {
        let model = try Self.model(), d = model.data.dimension
        var o = LikelihoodOptions()
        o.x = (0..<(3 * d)).map { Double(($0 * 37) % 256) }
        o["estimator"] = "hutchinson"; o["seed"] = 3; o["dequantize"] = 0
        var one = LikelihoodOptions(); one.x = Array(o.x[..<d]); one["estimator"] = "hutchinson"; one["seed"] = 3; one["dequantize"] = 0
        let all = try SamplingEngine(threads: 2).likelihoodBlocking(model, o)
        let single = try SamplingEngine(threads: 1).likelihoodBlocking(model, one)
        #expect(all.logLikelihood.count == 3 && all.logLikelihood.allSatisfy { $0.isFinite })
        #expect(single.logLikelihood[0].bitPattern == all.logLikelihood[0].bitPattern)
    }

    @Test("a ScoreSdeVeScheduler model (Fourier features) samples on its VE SDE alike for n = 2 and 5, and gives bits/dim")
    func veModel() throws {
        let model = try ScoreModel.load(directory: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/unet2d/plain_f32_scoresdeve_fourier").path)
        let d = model.data.dimension
        #expect(model.sde.kind == .ve)
        for sampler in ["pc", "reverse_diffusion"] {
            var o = SampleOptions()
            o.seed = 9; o.sampler = sampler; o.steps = 10
            var small = o; small.n = 2
            var large = o; large.n = 5
            let a = try SamplingEngine(threads: 1).sampleNow(model, small)
            let b = try SamplingEngine(threads: 2, chunkSize: 2).sampleNow(model, large)
            #expect(a.samples.map(\.bitPattern) == b.samples.prefix(2 * d).map(\.bitPattern), "\(sampler): n = 2 vs 5")
            #expect(b.samples.allSatisfy { $0.isFinite })
        }
        var o = LikelihoodOptions()
        o.x = (0..<d).map { Double(($0 * 53) % 256) }
        o["estimator"] = "hutchinson"; o["seed"] = 3; o["rtol"] = 1e-3; o["atol"] = 1e-3
        let ll = try SamplingEngine(threads: 2).likelihoodBlocking(model, o)
        #expect(ll.logLikelihood.count == 1 && ll.logLikelihood.allSatisfy { $0.isFinite })
        #expect(ll.bitsPerDim.count == 1 && ll.bitsPerDim.allSatisfy(\.isFinite))
    }
}
