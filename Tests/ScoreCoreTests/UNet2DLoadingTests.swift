import Foundation
import Testing
import ScoreCore
import ScoreJSON

/// diffusers directories that must not load, and the messages that say why; keys absent
/// from config.json take UNet2DModel's defaults.
@Suite("UNet2D directories: defaults and refusals")
struct UNet2DLoadingTests {
    static let plain = "plain_f32_ddpm_linear_eps", pipeline = "pipeline_f32_ddim_linear_vpred"
    static let ve = "plain_f32_scoresdeve_fourier"

    /// A copy of fixture `name` (in Tests/Fixtures/`folder`) in a temporary folder, changed
    /// by `edit` (given the copy).
    static func copy(_ name: String, folder: String = "unet2d", edit: (URL) throws -> Void) throws -> (URL, URL) {
        let root = try makeTemporaryDirectory()
        let dir = root.appendingPathComponent(name)
        try FileManager.default.copyItem(at: fixturesDirectory.appendingPathComponent("\(folder)/\(name)"), to: dir)
        try edit(dir)
        return (root, dir)
    }

    /// Rewrites the JSON object in `file` by `change`.
    static func rewrite(_ file: URL, _ change: (inout JSONObject) -> Void) throws {
        let text = try String(contentsOf: file, encoding: .utf8)
            .replacingOccurrences(of: "-Infinity", with: "null")
        guard case .object(var o) = try JSONValue.parse(text) else { throw FixtureError("not an object") }
        change(&o)
        try JSONValue.object(o).encoded().write(to: file, atomically: true, encoding: .utf8)
    }

    /// The load error of fixture `name` after `edit`; fails the test when it loads.
    static func loadError(_ name: String, folder: String = "unet2d", _ edit: (URL) throws -> Void) throws -> String {
        let (root, dir) = try copy(name, folder: folder, edit: edit)
        defer { try? FileManager.default.removeItem(at: root) }
        do {
            _ = try ScoreModel.load(directory: dir.path)
            Issue.record("\(name) loaded after the edit")
            return ""
        } catch {
            return error.description
        }
    }

    /// Each (key, value) set in `file` of fixture `name` must be refused with a message
    /// naming the file and containing every word.
    static func expectRefusals(_ name: String, _ file: String, _ cases: [(String, JSONValue, [String])]) throws {
        for (key, value, words) in cases {
            let message = try loadError(name) { dir in
                try rewrite(dir.appendingPathComponent(file)) { $0[key] = value }
            }
            #expect(message.contains(file), "\(key): \(message)")
            for word in words { #expect(message.contains(word), "\(key): '\(word)' not in \(message)") }
        }
    }

    @Test("config.json values outside the network are refused by key and value")
    func configRefusals() throws {
        let cases: [(String, JSONValue, [String])] = [
            ("resnet_time_scale_shift", .string("scale_shift"), ["resnet_time_scale_shift", "scale_shift"]),
            ("act_fn", .string("gelu"), ["act_fn", "gelu"]),
            ("class_embed_type", .string("timestep"), ["class_embed_type", "timestep"]),
            ("num_class_embeds", .integer(10), ["num_class_embeds", "class-conditional"]),
            ("time_embedding_type", .string("learned"), ["time_embedding_type", "learned"]),
            // Fourier features take log σ: a DDPM scheduler's timesteps reach 0.
            ("time_embedding_type", .string("fourier"), ["time_embedding_type", "fourier", "ScoreSdeVeScheduler"]),
            ("down_block_types", .array([.string("DownBlock2D"), .string("CrossAttnDownBlock2D")]),
             ["down_block_types[1]", "CrossAttnDownBlock2D"]),
            ("mid_block_type", .string("UNetMidBlock2DCrossAttn"), ["mid_block_type", "UNetMidBlock2DCrossAttn"]),
            ("downsample_type", .string("resnet"), ["downsample_type", "resnet"]),
            ("out_channels", .integer(6), ["out_channels", "learned variances"]),
            ("norm_num_groups", .integer(3), ["norm_num_groups", "3 groups"]),
            ("sample_size", .integer(7), ["sample_size", "7 × 7"]),
            ("_class_name", .string("UNet2DConditionModel"), ["_class_name", "UNet2DConditionModel"]),
            ("brand_new_option", .bool(true), ["brand_new_option", "unknown"]),
            // null groups are diffusers' min(C/4, 32) only where the skip blocks and the mid block compute it.
            ("norm_num_groups", .null, ["norm_num_groups", "down_block_types[0]", "not a skip block"]),
            ("down_block_types", .array([.string("DownBlock2D"), .string("AttnSkipDownBlock3D")]),
             ["down_block_types[1]", "AttnSkipDownBlock3D", "SkipDownBlock2D"]),
        ]
        try Self.expectRefusals(Self.plain, "config.json", cases)
        // The skip blocks' convolutions are built for 3 channels (this fixture has 1).
        try Self.expectRefusals("pipeline_f16_ddpm_scaledlinear_vpred", "unet/config.json", [
            ("down_block_types", .array([.string("SkipDownBlock2D"), .string("AttnSkipDownBlock2D"), .string("SkipDownBlock2D")]),
             ["in_channels", "1", "skip block", "3 channels"]),
        ])
    }

    @Test("scheduler configs: missing, unknown class, schedules and fields that change the schedule are refused")
    func schedulerRefusals() throws {
        let missing = try Self.loadError(Self.plain) { dir in
            try FileManager.default.removeItem(at: dir.appendingPathComponent("scheduler_config.json"))
        }
        #expect(missing.contains("scheduler_config.json") && missing.contains("missing"), "\(missing)")
        let cases: [(String, JSONValue, [String])] = [
            ("_class_name", .string("FlowMatchEulerDiscreteScheduler"), ["_class_name", "FlowMatchEulerDiscreteScheduler"]),
            ("beta_schedule", .string("sigmoid"), ["beta_schedule", "sigmoid"]),
            ("prediction_type", .string("x0"), ["prediction_type", "x0"]),
            ("rescale_betas_zero_snr", .bool(true), ["rescale_betas_zero_snr"]),
            ("timestep_type", .string("continuous"), ["timestep_type", "continuous"]),
            ("trained_betas", .array([.number(0.1)]), ["trained_betas", "1 betas"]),
            ("beta_end", .number(1.5), ["every beta must lie in (0, 1)"]),
            ("mystery_shift", .number(3), ["mystery_shift", "unknown"]),
        ]
        try Self.expectRefusals(Self.plain, "scheduler_config.json", cases)
        // ScoreSdeVeScheduler: the VE SDE's σ range and sampling_eps.
        let veCases: [(String, JSONValue, [String])] = [
            ("sigma_max", .number(0.005), ["sigma_max", "not above sigma_min"]),
            ("sigma_min", .number(-1), ["sigma_min", "positive"]),
            ("sampling_eps", .number(1.5), ["sampling_eps", "below 1"]),
            ("beta_start", .number(0.1), ["beta_start", "unknown"]),
        ]
        try Self.expectRefusals(Self.ve, "scheduler_config.json", veCases)
    }

    @Test("weights: shapes that disagree with the config, a truncated file, a missing file name the file and tensor")
    func weightRefusals() throws {
        let shapes = try Self.loadError(Self.plain) { dir in
            try Self.rewrite(dir.appendingPathComponent("config.json")) {
                $0["block_out_channels"] = .array([.integer(8), .integer(32)])
            }
        }
        #expect(shapes.contains("diffusion_pytorch_model.safetensors") && shapes.contains("tensor '")
                && shapes.contains("expected"), "\(shapes)")
        let truncated = try Self.loadError(Self.plain) { dir in
            let file = dir.appendingPathComponent("diffusion_pytorch_model.safetensors")
            let bytes = try Data(contentsOf: file)
            try bytes.prefix(bytes.count - 100).write(to: file)
        }
        #expect(truncated.contains("diffusion_pytorch_model.safetensors"), "\(truncated)")
        let absent = try Self.loadError(Self.plain) { dir in
            try FileManager.default.moveItem(at: dir.appendingPathComponent("diffusion_pytorch_model.safetensors"),
                                             to: dir.appendingPathComponent("diffusion_pytorch_model.bin"))
        }
        #expect(absent.contains("missing") && absent.contains("diffusion_pytorch_model.bin"), "\(absent)")
    }

    @Test("pipelines: a conditional component or a foreign unet class is refused by its key in model_index.json")
    func pipelineRefusals() throws {
        let vae = try Self.loadError(Self.pipeline) { dir in
            try Self.rewrite(dir.appendingPathComponent("model_index.json")) {
                $0["vae"] = .array([.string("diffusers"), .string("AutoencoderKL")])
            }
        }
        #expect(vae.contains("model_index.json") && vae.contains("'vae'") && vae.contains("AutoencoderKL"), "\(vae)")
        let unet = try Self.loadError(Self.pipeline) { dir in
            try Self.rewrite(dir.appendingPathComponent("model_index.json")) {
                $0["unet"] = .array([.string("diffusers"), .string("UNet2DConditionModel")])
            }
        }
        #expect(unet.contains("model_index.json") && unet.contains("UNet2DConditionModel"), "\(unet)")
    }

    @Test("absent keys take UNet2DModel's defaults, which differ from null")
    func defaults() throws {
        let reference = try ScoreModel.load(directory: fixturesDirectory.appendingPathComponent("unet2d/\(Self.plain)").path)
        let x = (0..<reference.network.dimension).map { Float(sin(Double($0))) }
        let expected = ScoreWorkspace(network: reference.network, rows: 1).score(x, times: [0.3])
        // Every key whose value is UNet2DModel's default removed: the same network.
        let defaults: Set<String> = ["act_fn", "add_attention", "attn_norm_num_groups", "center_input_sample",
                                     "class_embed_type", "downsample_padding", "downsample_type", "dropout",
                                     "flip_sin_to_cos", "freq_shift", "in_channels", "layers_per_block",
                                     "mid_block_scale_factor", "mid_block_type", "norm_eps", "num_class_embeds",
                                     "num_train_timesteps", "out_channels", "resnet_time_scale_shift",
                                     "time_embedding_dim", "time_embedding_type", "upsample_type", "_diffusers_version"]
        let (root, dir) = try Self.copy(Self.plain) { dir in
            try Self.rewrite(dir.appendingPathComponent("config.json")) { o in
                var trimmed = JSONObject()
                for (k, v) in o.pairs where !defaults.contains(k) { trimmed[k] = v }
                o = trimmed
            }
        }
        defer { try? FileManager.default.removeItem(at: root) }
        let trimmed = try ScoreModel.load(directory: dir.path)
        #expect(ScoreWorkspace(network: trimmed.network, rows: 1).score(x, times: [0.3]) == expected)
        // attention_head_dim absent is 8 (2 heads of 8 at 16 channels), not the fixture's 4.
        try Self.rewrite(dir.appendingPathComponent("config.json")) { $0["attention_head_dim"] = nil }
        let eight = try ScoreModel.load(directory: dir.path)
        #expect(ScoreWorkspace(network: eight.network, rows: 1).score(x, times: [0.3]) != expected)
    }

    @Test("a sidecar scoreserve.json renames the model and sets its data mapping; without one the name is the folder's")
    func sidecar() throws {
        let (root, dir) = try Self.copy(Self.pipeline) { dir in
            try #"{"name": "cifar-ddim", "description": "test", "data": {"shift": 0.5, "scale": 0.5}}"#
                .write(to: dir.appendingPathComponent("scoreserve.json"), atomically: true, encoding: .utf8)
        }
        defer { try? FileManager.default.removeItem(at: root) }
        let model = try ScoreModel.load(directory: dir.path)
        #expect(model.name == "cifar-ddim" && model.config.description == "test")
        #expect(model.data.shift.allSatisfy { $0 == 0.5 } && model.data.levels == 256)
        let plain = try ScoreModel.load(directory: fixturesDirectory.appendingPathComponent("unet2d/\(Self.plain)").path)
        #expect(plain.name == Self.plain)
        #expect(plain.data.shape == [3, 8, 8] && plain.data.shift.allSatisfy { $0 == 127.5 }
                && plain.data.scale.allSatisfy { $0 == 127.5 } && plain.data.levels == 256)
        #expect(plain.metadata.sdeType == "vp_discrete" && plain.metadata.networkType == "unet2d")
        #expect(plain.network.parameterCount == plain.tensors.reduce(0) { $0 + $1.elementCount })
    }

    @Test("the ancestral step at the training steps is DDPM's: β_n from the schedule")
    func ddpmSteps() throws {
        let model = try ScoreModel.load(directory: fixturesDirectory.appendingPathComponent("unet2d/plain_f64_dpmsolver_trained_eps").path)
        let sde = model.sde, n = sde.schedule!.steps
        let text = try String(contentsOf: fixturesDirectory.appendingPathComponent(
            "unet2d/plain_f64_dpmsolver_trained_eps/scheduler_config.json"), encoding: .utf8)
        guard case .object(let o) = try JSONValue.parse(text.replacingOccurrences(of: "-Infinity", with: "null")),
              case .array(let betas)? = o["trained_betas"] else { throw FixtureError("no trained_betas") }
        for k in 0..<n {
            // The grid linspace(1, 1/N, N) of a sampler run at steps = N.
            let t = 1 - Double(k) * (1 - 1 / Double(n)) / Double(n - 1), index = n - 1 - k
            let step = sde.ancestralStep(t, steps: n, stepSize: 1 / Double(n))!
            let beta = betas[index].doubleValue!
            #expect(abs(step.scoreScale - beta) <= 1e-12, "step \(k): \(step.scoreScale) vs β_\(index) = \(beta)")
        }
    }
}
