import Foundation
import Testing
import ScoreCore
import ScoreJSON

/// `ncsnpp` directories that must not load, and the messages that say why.
@Suite("NCSN++ directories: refusals")
struct NCSNppLoadingTests {
    static let vp = "vp_ddpmpp", ve = "ve_ncsnpp_outskip"

    /// The load error of `name` after `change` of its config.json's network section.
    static func networkError(_ name: String, _ change: @escaping (inout JSONObject) -> Void) throws -> String {
        try UNet2DLoadingTests.loadError(name, folder: "ncsnpp") { dir in
            try UNet2DLoadingTests.rewrite(dir.appendingPathComponent("config.json")) { o in
                guard case .object(var network)? = o["network"] else { return }
                change(&network)
                o["network"] = .object(network)
            }
        }
    }

    @Test("options score_sde does not have, missing or unknown keys, and combinations its modules cannot run are refused by key")
    func optionRefusals() throws {
        let cases: [(String, (inout JSONObject) -> Void, [String])] = [
            (Self.vp, { $0["resblock_type"] = .string("resnet") }, ["network.resblock_type", "'resnet'"]),
            (Self.vp, { $0["progressive"] = .string("skip") }, ["network.progressive", "'skip'"]),
            (Self.vp, { $0["embedding_type"] = .string("learned") }, ["network.embedding_type", "'learned'"]),
            (Self.vp, { $0["nonlinearity"] = .string("elu") }, ["network.nonlinearity", "'elu'"]),
            (Self.vp, { $0["nf"] = nil }, ["network.nf", "missing"]),
            (Self.vp, { $0["attention_type"] = .string("ddpm") }, ["network.attention_type", "unknown"]),
            (Self.vp, { $0["fir_kernel"] = .array([.integer(1), .integer(-1)]) }, ["network.fir_kernel", "sums to 0"]),
            // layerspp.Upsample runs only with fir and no conv.
            (Self.vp, { $0["progressive"] = .string("residual") }, ["network.progressive", "'residual'", "layerspp.Upsample"]),
            (Self.vp, { $0["progressive"] = .string("output_skip") }, ["network.progressive", "without fir", "layerspp.Upsample"]),
            (Self.vp, { $0["resblock_type"] = .string("ddpm") }, ["network.resblock_type", "'ddpm'", "layerspp.Upsample"]),
            (Self.ve, { $0["resblock_type"] = .string("ddpm") }, ["network.resblock_type", "resamp_with_conv"]),
            (Self.ve, { $0["scale_by_sigma"] = .bool(true); $0["embedding_type"] = .string("positional"); $0["num_scales"] = .integer(100) },
             ["network.num_scales", "100", "sigmas table"]),
        ]
        for (name, change, words) in cases {
            let message = try Self.networkError(name, change)
            #expect(message.contains("config.json") || message.contains("model.safetensors"), "\(message)")
            for word in words { #expect(message.contains(word), "'\(word)' not in \(message)") }
        }
    }

    @Test("data that ncsnpp cannot take: not [C, H, W], not square, a size the levels do not divide; an SDE it was not trained on")
    func dataRefusals() throws {
        func shape(_ dims: [Int64]) -> JSONValue { .object(JSONObject(["shape": .array(dims.map { .integer($0) })])) }
        let edits: [((inout JSONObject) -> Void, [String])] = [
            ({ $0["data"] = shape([3, 8, 16]) }, ["data.shape", "square"]),
            ({ $0["data"] = shape([3, 10, 10]) }, ["data.shape", "10", "2^2"]),
            ({ $0["data"] = shape([192]) }, ["data.shape", "[channels, height, width]"]),
            ({ $0["sde"] = .object(JSONObject(["type": .string("ve_power")])) }, ["ve_power", "vp, subvp or ve"]),
        ]
        for (change, words) in edits {
            let message = try UNet2DLoadingTests.loadError(Self.vp, folder: "ncsnpp") { dir in
                try UNet2DLoadingTests.rewrite(dir.appendingPathComponent("config.json"), change)
            }
            for word in words { #expect(message.contains(word), "'\(word)' not in \(message)") }
        }
    }

    @Test("weights that disagree with the options, a truncated file, a tensor the options do not imply: the file and tensor are named")
    func weightRefusals() throws {
        // nf 16 implies conv_in [16, 3, 3, 3]; the checkpoint's has 8 filters.
        let nf = try Self.networkError(Self.vp) { $0["nf"] = .integer(16) }
        #expect(nf.contains("model.safetensors") && nf.contains("all_modules.") && nf.contains("expected"), "\(nf)")
        // One resnet block per level fewer: the checkpoint has modules the options do not imply.
        let fewer = try Self.networkError(Self.ve) { $0["ch_mult"] = .array([.integer(1), .integer(1)]) }
        #expect(fewer.contains("model.safetensors") && fewer.contains("all_modules."), "\(fewer)")
        // Attention where the checkpoint has none: its tensors are missing.
        let attention = try Self.networkError(Self.vp) { $0["attn_resolutions"] = .array([.integer(8), .integer(4)]) }
        #expect(attention.contains("all_modules.") && attention.contains("NIN_0") || attention.contains("GroupNorm_0"), "\(attention)")
        let truncated = try UNet2DLoadingTests.loadError(Self.vp, folder: "ncsnpp") { dir in
            let file = dir.appendingPathComponent("model.safetensors")
            let bytes = try Data(contentsOf: file)
            try bytes.prefix(bytes.count / 2).write(to: file)
        }
        #expect(truncated.contains("model.safetensors"), "\(truncated)")
    }
}
