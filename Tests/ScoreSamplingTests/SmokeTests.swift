import Testing
import ScoreCore
import ScoreSampling

@Suite("Engine smoke")
struct SmokeTests {
    @Test("every sampler runs on a 2-D mixture")
    func runs() throws {
        let model = TestModels.gmm(SDE(kind: .vp), components: TestModels.mixture2D)
        let engine = SamplingEngine(threads: 2)
        for sampler in Samplers.names {
            var o = SampleOptions()
            o.n = 3; o.seed = 1; o.sampler = sampler
            if sampler != "ode" && sampler != "dpm_solver" { o.steps = 50 }
            let r = try engine.sampleNow(model, o)
            #expect(r.samples.count == 6 && r.samples.allSatisfy { $0.isFinite }, "\(sampler)")
        }
    }
}
