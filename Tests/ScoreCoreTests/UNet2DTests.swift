import Foundation
import Testing
import ScoreCore
import ScoreJSON

/// diffusers' UNet2DModel against diffusers itself: the fixtures
/// (Tests/Fixtures/unet2d/make_unet2d_fixtures.py) hold tiny models with every tensor
/// perturbed, saved by `save_pretrained`, and float64 scores, JVPs and schedules computed
/// by diffusers in float64.
@Suite("UNet2D (diffusers' UNet2DModel)")
struct UNet2DTests {
    static let fixtures = [
        "plain_f32_ddpm_linear_eps", "plain_f32_ddpm_linear_eps_oldkeys", "pipeline_f16_ddpm_scaledlinear_vpred",
        "plain_bf16_ddpm_cosine_sample", "plain_f64_dpmsolver_trained_eps", "pipeline_f32_ddim_linear_vpred",
        "plain_f32_scoresdeve_fourier", "plain_f16_scoresdeve_ncsnpp", "plain_f16_ddpm_skip_positional",
    ]

    struct Case { let reference: ReferenceCase; let alpha, sigma: Double; var t: Double { reference.t } }
    struct Fixture {
        let model: ScoreModel
        let cases: [Case]
        /// Times and, for DDPM schedules, log α(t); for the VE SDE, σ(t) instead.
        let scheduleT: [Double], logAlpha: [Double]?, sigma: [Double]?
        let steps: Int
    }

    static func load(_ name: String) throws -> Fixture {
        let dir = fixturesDirectory.appendingPathComponent("unet2d/\(name)")
        let json = try JSONValue.parse([UInt8](try Data(contentsOf: dir.appendingPathComponent("expected.json"))))
        guard case .object(let o) = json, case .array(let cases)? = o["cases"], case .object(let schedule)? = o["schedule"],
              case .integer(let steps)? = o["num_train_timesteps"] else {
            throw FixtureError("expected.json lacks cases, schedule or num_train_timesteps")
        }
        let parsed = try cases.map { item -> Case in
            guard case .object(let c) = item, let t = c["t"]?.doubleValue, let a = c["alpha"]?.doubleValue,
                  let s = c["sigma"]?.doubleValue else { throw FixtureError("bad case") }
            return Case(reference: ReferenceCase(t: t, x: try doubles(c["x"]).map { Float($0) }, v: try doubles(c["v"]).map { Float($0) },
                                                 score: try doubles(c["score"]), jvp: try doubles(c["jvp"])),
                        alpha: a, sigma: s)
        }
        return Fixture(model: try ScoreModel.load(directory: dir.path), cases: parsed,
                       scheduleT: try doubles(schedule["t"]),
                       logAlpha: schedule["log_alpha"] == nil ? nil : try doubles(schedule["log_alpha"]),
                       sigma: schedule["sigma"] == nil ? nil : try doubles(schedule["sigma"]), steps: Int(steps))
    }

    @Test("the schedule is DPM-Solver's discrete VP SDE, or ScoreSdeVeScheduler's VE SDE", arguments: fixtures)
    func schedule(_ name: String) throws {
        let f = try Self.load(name)
        let sde = f.model.sde
        if let sigmas = f.sigma {
            #expect(sde.kind == .ve)
            #expect(abs(sde.samplingEps - f.scheduleT[0]) < 1e-15)
            for (t, expected) in zip(f.scheduleT, sigmas) {
                #expect(abs(sde.marginalStd(t) - expected) <= 1e-12 * expected, "\(name): σ(\(t))")
            }
            // ScoreSdeVePipeline's images are in [0, 1]: 8-bit pixels x/255.
            #expect(f.model.data.shift.allSatisfy { $0 == 0 } && f.model.data.scale.allSatisfy { $0 == 255 })
            return
        }
        let logAlpha = try #require(f.logAlpha)
        #expect(sde.kind == .vpDiscrete)
        #expect(sde.parameters.first?.1 == Double(f.steps))
        #expect(abs(sde.samplingEps - 1 / Double(f.steps)) < 1e-15)
        for (t, expected) in zip(f.scheduleT, logAlpha) {
            let got = log(sde.meanCoefficient(t))
            #expect(abs(got - expected) <= 1e-12 * max(1, abs(expected)), "\(name): log α(\(t)) = \(got), diffusers \(expected)")
        }
        for c in f.cases {
            #expect(abs(sde.marginalStd(c.t) - c.sigma) <= 1e-12 * max(c.sigma, 1e-3), "\(name): σ(\(c.t))")
            #expect(abs(sde.meanCoefficient(c.t) - c.alpha) <= 1e-12, "\(name): α(\(c.t))")
        }
    }

    @Test("scores and JVPs match diffusers in float64 to 1e-5 relative", arguments: fixtures)
    func parity(_ name: String) throws {
        let f = try Self.load(name)
        #expect(f.model.network.typeName == "unet2d")
        try expectParity(f.model.network, f.cases.map(\.reference), bound: 1e-5, name)
    }

    @Test("images scored together (batches of 4, then the rest) get each image's own bits", arguments: fixtures)
    func batches(_ name: String) throws {
        let f = try Self.load(name)
        expectBatchBits(f.model.network, f.cases.map(\.reference), name)
    }

    @Test("a wide network (256 channels at 8 × 8, several images per Winograd GEMM): each image's scores are its own bits")
    func wide() throws {
        // wide_8x8 holds diffusers' config and the state_dict's names and shapes
        // (make_wide_shapes.py); the weights are seeded random values written here.
        let source = fixturesDirectory.appendingPathComponent("unet2d/wide_8x8")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unet2d-wide-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for file in ["config.json", "scheduler_config.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        }
        guard case .object(let shapes) = try JSONValue.parse([UInt8](try Data(contentsOf: source.appendingPathComponent("tensors.json")))) else {
            throw FixtureError("tensors.json is not an object")
        }
        var g = SplitMix64(seed: 11)
        func uniform() -> Float { Float(Double(g.next() >> 11) / Double(1 << 53)) * 2 - 1 }
        let entries = try shapes.pairs.map { name, value -> SafeTensors.Entry in
            guard case .array(let dims) = value else { throw FixtureError("\(name): no shape") }
            let shape = dims.compactMap { $0.doubleValue.map { Int($0) } }
            let count = shape.reduce(1, *), fanIn = shape.dropFirst().reduce(1, *)
            // Weights at PyTorch's default init scale; norm gains near 1; small biases.
            let values: [Float] = shape.count > 1 ? (0..<count).map { _ in uniform() / Float(fanIn).squareRoot() }
                : name.contains("norm") && name.hasSuffix("weight") ? (0..<count).map { _ in 1 + 0.1 * uniform() }
                : (0..<count).map { _ in 0.1 * uniform() }
            return SafeTensors.Entry(name: name, shape: shape, values: values)
        }
        try Data(SafeTensors.encode(entries, metadata: ["format": "pt"]))
            .write(to: dir.appendingPathComponent("diffusion_pytorch_model.safetensors"))
        let net = try ScoreModel.load(directory: dir.path).network, d = net.dimension, rows = 6
        // The up block's 8 × 8 convolutions (512 → 256 and 256 → 256 channels, 16 tiles)
        // hold the batch's images in one GEMM call each.
        #expect(net.batchRows == 4)
        let x = (0..<(rows * d)).map { _ in uniform() }, times = (0..<rows).map { 0.1 + 0.15 * Double($0) }
        let together = ScoreWorkspace(network: net, rows: rows).score(x, times: times)
        #expect(together.allSatisfy(\.isFinite) && together.contains { $0 != 0 })
        let alone = ScoreWorkspace(network: net, rows: 1)
        for r in 0..<rows {
            let one = alone.score(Array(x[(r * d)..<((r + 1) * d)]), times: [times[r]])
            #expect(one.map(\.bitPattern) == together[(r * d)..<((r + 1) * d)].map(\.bitPattern), "row \(r)")
        }
    }
}
