import ScoreJSON

/// A diffusers `UNet2DModel` config.json, within what the `unet2d` network evaluates.
/// Absent keys take `UNet2DModel.__init__`'s defaults; anything the network does not
/// implement (other block types, class conditioning, `scale_shift` time embedding,
/// another activation, ...) is refused naming the key and its value.
public struct UNet2DConfig: Sendable, Equatable {
    /// A down or up block: resnets, with attention when `attention` (`AttnDownBlock2D`,
    /// `AttnUpBlock2D`: after each resnet; `AttnSkipUpBlock2D`: once, after the last).
    /// `skip`: NCSN++'s skip blocks (`SkipDownBlock2D`, `AttnSkipDownBlock2D`,
    /// `SkipUpBlock2D`, `AttnSkipUpBlock2D`): GroupNorm groups min(C/4, 32), resnets scaled
    /// by 1/√2, FIR resampling, and the image-resolution skip branch.
    public struct Block: Sendable, Equatable {
        public let attention: Bool
        public let skip: Bool
    }

    public let height: Int, width: Int
    public let inChannels: Int, outChannels: Int
    public let centerInputSample: Bool
    /// Width of the time MLP (`time_embedding_dim`, default 4 × block_out_channels[0]).
    public let timeEmbeddingDim: Int
    public let freqShift: Double
    public let flipSinToCos: Bool
    /// `time_embedding_type` "fourier": Gaussian Fourier features of log τ (weights
    /// `time_proj.weight`, 2 × block_out_channels[0] inputs to the time MLP), and the
    /// output divided by the timestep τ; "positional" otherwise.
    public let fourier: Bool
    public let downBlocks: [Block], upBlocks: [Block]
    /// Whether there is a `UNetMidBlock2D` (`mid_block_type` null has none).
    public let midBlock: Bool
    public let addAttention: Bool
    public let blockOutChannels: [Int]
    public let layersPerBlock: Int
    public let midBlockScaleFactor: Double
    public let downsamplePadding: Int
    /// Channels per attention head; nil is one head.
    public let attentionHeadDim: Int?
    /// nil (null): min(C/4, 32), as diffusers computes it for the mid block and
    /// `conv_norm_out`; only with skip blocks.
    public let normNumGroups: Int?
    public let attnNormNumGroups: Int?
    public let normEps: Double

    /// Parses and checks config.json of a UNet2DModel (`file` names it in errors).
    public static func parse(_ object: JSONObject, file: String) throws(ModelLoadError) -> UNet2DConfig {
        var r = DiffusersConfigReader(object, file: file)
        let className = try r.string("_class_name", default: nil)
        guard className == "UNet2DModel" else {
            throw r.fail("_class_name", "\(className.map { "'\($0)'" } ?? "missing"): ScoreServe serves diffusers' UNet2DModel")
        }
        // sample_size: an integer or [height, width]; UNet2DModel's default (None) cannot serve.
        let sizeValue = r.value("sample_size")
        let height: Int, width: Int
        switch sizeValue {
        case .integer?:
            height = try r.reader.integer(sizeValue, "sample_size", atLeast: 1)!
            width = height
        case .array(let items)? where items.count == 2:
            height = try r.reader.integer(items[0], "sample_size[0]", atLeast: 1)!
            width = try r.reader.integer(items[1], "sample_size[1]", atLeast: 1)!
        default:
            throw r.fail("sample_size", "expected an integer or [height, width], got \(sizeValue?.typeName ?? "null")")
        }
        let inChannels = try r.int("in_channels", default: 3, atLeast: 1)!
        let outChannels = try r.int("out_channels", default: 3, atLeast: 1)!
        guard outChannels == inChannels else {
            throw r.fail("out_channels", "\(outChannels) differs from in_channels \(inChannels): ScoreServe serves models that predict one value per input value (learned variances are not supported)")
        }
        let center = try r.bool("center_input_sample", default: false)
        let embedding = try r.string("time_embedding_type", default: "positional")
        try r.only("time_embedding_type", embedding, ["positional", "fourier"])
        let freqShift = try r.double("freq_shift", default: 0)
        guard let freqShift else { throw r.fail("freq_shift", "expected a number, got null") }
        let flip = try r.bool("flip_sin_to_cos", default: true)

        let downTypes = try r.strings("down_block_types", default: ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"])
        let upTypes = try r.strings("up_block_types", default: ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"])
        func blocks(_ types: [String], _ key: String, _ direction: String) throws(ModelLoadError) -> [Block] {
            let kinds = [("\(direction)Block2D", Block(attention: false, skip: false)),
                         ("Attn\(direction)Block2D", Block(attention: true, skip: false)),
                         ("Skip\(direction)Block2D", Block(attention: false, skip: true)),
                         ("AttnSkip\(direction)Block2D", Block(attention: true, skip: true))]
            var out: [Block] = []
            for (i, type) in types.enumerated() {
                // get_down_block / get_up_block drop a "UNetRes" prefix.
                let bare = type.hasPrefix("UNetRes") ? String(type.dropFirst(7)) : type
                guard let block = kinds.first(where: { $0.0 == bare })?.1 else {
                    throw r.fail("\(key)[\(i)]", "'\(type)' is not supported (ScoreServe serves \(kinds.map(\.0).joined(separator: ", ")))")
                }
                out.append(block)
            }
            return out
        }
        let down = try blocks(downTypes, "down_block_types", "Down")
        let up = try blocks(upTypes, "up_block_types", "Up")
        let mid = try r.string("mid_block_type", default: "UNetMidBlock2D")
        try r.only("mid_block_type", mid, ["UNetMidBlock2D", nil])
        let channels = try r.ints("block_out_channels", default: [224, 448, 672, 896])
        guard let channels else { throw r.fail("block_out_channels", "expected an array of integers, got null") }
        guard down.count == up.count else {
            throw r.fail("up_block_types", "\(up.count) up blocks for \(down.count) down blocks (UNet2DModel needs as many)")
        }
        guard channels.count == down.count else {
            throw r.fail("block_out_channels", "\(channels.count) channel counts for \(down.count) down blocks (UNet2DModel needs one per block)")
        }
        let timeDim = try r.int("time_embedding_dim", default: nil, atLeast: 1) ?? 4 * channels[0]
        let layers = try r.int("layers_per_block", default: 2, atLeast: 1)!
        let midScale = try r.double("mid_block_scale_factor", default: 1)
        guard let midScale, midScale != 0 else { throw r.fail("mid_block_scale_factor", "expected a non-zero number") }
        let padding = try r.int("downsample_padding", default: 1)
        guard padding == 0 || padding == 1 else {
            throw r.fail("downsample_padding", "\(padding.map(String.init) ?? "null") is not supported (ScoreServe serves 0 and 1)")
        }
        try r.only("downsample_type", try r.string("downsample_type", default: "conv"), ["conv"])
        try r.only("upsample_type", try r.string("upsample_type", default: "conv"), ["conv"])
        _ = try r.double("dropout", default: 0)   // training only
        let act = try r.string("act_fn", default: "silu")
        try r.only("act_fn", act, ["silu", "swish"])
        let headDim = try r.int("attention_head_dim", default: 8, atLeast: 1)
        // null: min(C/4, 32) where diffusers computes it (mid block, conv_norm_out, skip
        // blocks); the other blocks need a count.
        let groups = try r.int("norm_num_groups", default: 32, atLeast: 1)
        if groups == nil, let i = (down + up).firstIndex(where: { !$0.skip }) {
            let key = i < down.count ? "down_block_types[\(i)]" : "up_block_types[\(i - down.count)]"
            throw r.fail("norm_num_groups", "null, but \(key) is not a skip block and needs a group count (diffusers fails on this model)")
        }
        let attnGroups = try r.int("attn_norm_num_groups", default: nil, atLeast: 1)
        let eps = try r.double("norm_eps", default: 1e-5)
        guard let eps, eps > 0 else { throw r.fail("norm_eps", "expected a positive number") }
        try r.only("resnet_time_scale_shift", try r.string("resnet_time_scale_shift", default: "default"), ["default"])
        let addAttention = try r.bool("add_attention", default: true)
        try r.only("class_embed_type", try r.string("class_embed_type", default: nil), [nil])
        if let classes = try r.int("num_class_embeds", default: nil) {
            throw r.fail("num_class_embeds", "\(classes): class-conditional models are not supported (ScoreServe serves null)")
        }
        _ = try r.int("num_train_timesteps", default: nil)   // used by the "learned" embedding only
        try r.rejectUnknown("UNet2DModel config")

        if let groups {
            for (i, c) in channels.enumerated() where c % groups != 0 {
                throw r.fail("norm_num_groups", "\(groups) groups do not divide block_out_channels[\(i)] = \(c)")
            }
        }
        if let i = (down + up).firstIndex(where: \.skip), inChannels != 3 {
            let key = i < down.count ? "down_block_types[\(i)]" : "up_block_types[\(i - down.count)]"
            throw r.fail("in_channels", "\(inChannels), but \(key) is a skip block, whose skip convolutions diffusers builds for 3 channels")
        }
        let levels = channels.count - 1
        guard height % (1 << levels) == 0, width % (1 << levels) == 0 else {
            throw r.fail("sample_size", "\(height) × \(width) is not divisible by 2^\(levels), as \(channels.count) levels need")
        }
        return UNet2DConfig(height: height, width: width, inChannels: inChannels, outChannels: outChannels,
                            centerInputSample: center, timeEmbeddingDim: timeDim, freqShift: freqShift,
                            flipSinToCos: flip, fourier: embedding == "fourier", downBlocks: down, upBlocks: up, midBlock: mid != nil,
                            addAttention: addAttention, blockOutChannels: channels, layersPerBlock: layers,
                            midBlockScaleFactor: midScale, downsamplePadding: padding!, attentionHeadDim: headDim,
                            normNumGroups: groups, attnNormNumGroups: attnGroups, normEps: eps)
    }
}
