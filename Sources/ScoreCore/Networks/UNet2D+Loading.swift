extension UNet2D {
    /// Builds the network from a UNet2DModel `state_dict` (`file` at `path`) and its
    /// config: every tensor the config implies is read with its shape checked (F32, F16,
    /// BF16 or F64, kept as Float32), both attention naming schemes are accepted, and a
    /// tensor the config does not imply is an error.
    static func load(_ file: SafeTensors, path: String, config: UNet2DConfig, sde: SDE,
                     prediction: Prediction?) throws(ModelLoadError) -> UNet2D {
        var builder = try ProgramBuilder(file, path: path)
        builder.dict.implied = "as the UNet2DModel config implies: block_out_channels \(config.blockOutChannels), layers_per_block \(config.layersPerBlock), in_channels \(config.inChannels)"
        var walk = DiffusersWalk(builder: builder, config: config)
        try walk.build()
        let b = walk.builder
        return UNet2D(sde: sde, kind: .diffusers(config, prediction: prediction), storage: b.storage, program: b.program,
                      parameterCount: b.parameterCount)
    }

    /// Walks UNet2DModel's forward (diffusers' unet_2d.py and unet_2d_blocks.py),
    /// reading tensors and emitting operations.
    struct DiffusersWalk {
        var builder: ProgramBuilder
        let config: UNet2DConfig

        /// The FIR kernel of the skip blocks (FirUpsample2D, FirDownsample2D, ResnetBlock2D
        /// with kernel "fir").
        static let firTaps: [Double] = [1, 3, 3, 1]
        /// The skip blocks' output_scale_factor (their default; UNet2DModel passes none).
        static let skipScale = 2.0.squareRoot()

        typealias Resample = ProgramBuilder.Resample

        mutating func build() throws(ModelLoadError) {
            let c0 = config.blockOutChannels[0], e = config.timeEmbeddingDim
            builder.program.timeInputDim = config.fourier ? 2 * c0 : c0
            builder.program.timeEmbedDim = e
            if config.fourier {
                // GaussianFourierProjection(embedding_size: c0): its fixed frequencies W.
                builder.program.time.features = .fourier
                builder.program.time.fourier = try builder.tensor("time_proj.weight", [c0])
            } else {
                guard Double(c0 / 2) - config.freqShift != 0 else {
                    throw ModelLoadError(file: builder.dict.path, subject: "freq_shift", "equals half of block_out_channels[0]: the embedding's frequencies divide by zero")
                }
                builder.program.time.features = .positional(flipSinToCos: config.flipSinToCos, shift: config.freqShift)
            }
            builder.program.time.weight1 = try builder.tensor("time_embedding.linear_1.weight", [e, builder.program.timeInputDim])
            builder.program.time.bias1 = try builder.tensor("time_embedding.linear_1.bias", [e])
            builder.program.time.weight2 = try builder.tensor("time_embedding.linear_2.weight", [e, e])
            builder.program.time.bias2 = try builder.tensor("time_embedding.linear_2.bias", [e])

            var h = builder.value(config.inChannels, config.height, config.width)   // value 0: the input
            if config.centerInputSample { h = builder.affine(h, scale: 2, shift: -1) }
            // The skip blocks' image-resolution branch starts from the (centred) input.
            var skipSample = h
            h = try builder.conv("conv_in", h, outChannels: c0, kernel: 3)
            var skips = [h]
            for (i, block) in config.downBlocks.enumerated() {
                let channels = config.blockOutChannels[i], prefix = "down_blocks.\(i)"
                for j in 0..<config.layersPerBlock {
                    let c = builder.shape(h).c
                    h = try resnet("\(prefix).resnets.\(j)", h, outChannels: channels,
                                   groups: block.skip ? (quarter(c), quarter(channels)) : (config.normNumGroups!, config.normNumGroups!),
                                   outputScale: block.skip ? Self.skipScale : 1)
                    if block.attention {
                        h = try attention("\(prefix).attentions.\(j)", h, groups: block.skip ? 32 : config.normNumGroups!,
                                          rescale: block.skip ? Self.skipScale : 1)
                    }
                    skips.append(h)
                }
                guard i < config.downBlocks.count - 1 else { continue }
                if block.skip {
                    h = try resnet("\(prefix).resnet_down", h, outChannels: channels,
                                   groups: (quarter(channels), quarter(channels)), outputScale: Self.skipScale,
                                   resample: .down, shortcut: true)
                    skipSample = builder.fir(skipSample, taps: Self.firTaps, up: false)
                    let projected = try builder.conv("\(prefix).skip_conv", skipSample, outChannels: channels, kernel: 1)
                    h = try builder.add(projected, h, context: "\(prefix).skip_conv")
                } else {
                    let padding = config.downsamplePadding == 1 ? Convolution.Padding.same : .init(before: 0, after: 1)
                    h = try builder.conv("\(prefix).downsamplers.0.conv", h, outChannels: channels, kernel: 3, stride: 2,
                                         padding: padding)
                }
                skips.append(h)
            }
            if config.midBlock {
                let scale = config.midBlockScaleFactor, c = builder.shape(h).c
                let groups = config.normNumGroups ?? quarter(c)
                h = try resnet("mid_block.resnets.0", h, outChannels: c, groups: (groups, groups), outputScale: scale)
                if config.addAttention {
                    h = try attention("mid_block.attentions.0", h, groups: config.attnNormNumGroups ?? groups, rescale: scale)
                }
                h = try resnet("mid_block.resnets.1", h, outChannels: c, groups: (groups, groups), outputScale: scale)
            }
            let reversed = Array(config.blockOutChannels.reversed())
            var upSkip: Int?
            for (i, block) in config.upBlocks.enumerated() {
                let channels = reversed[i], prefix = "up_blocks.\(i)", last = i == config.upBlocks.count - 1
                for j in 0...config.layersPerBlock {
                    let skip = skips.removeLast(), c = builder.shape(h).c, k = builder.shape(skip).c
                    let joined = try builder.concat(h, skip)
                    // AttnSkipUpBlock2D computes min(in + skip // 4, 32), as written.
                    let first = block.skip ? (block.attention ? Swift.min(c + k / 4, 32) : quarter(c + k)) : config.normNumGroups!
                    h = try resnet("\(prefix).resnets.\(j)", joined, outChannels: channels,
                                   groups: (first, block.skip ? quarter(channels) : config.normNumGroups!),
                                   outputScale: block.skip ? Self.skipScale : 1)
                    if block.attention && !block.skip {
                        h = try attention("\(prefix).attentions.\(j)", h, groups: config.normNumGroups!, rescale: 1)
                    }
                }
                if block.attention && block.skip {
                    h = try attention("\(prefix).attentions.0", h, groups: 32, rescale: Self.skipScale)
                }
                if block.skip {
                    if let s = upSkip { upSkip = builder.fir(s, taps: Self.firTaps, up: true) }
                    guard !last else { continue }
                    let n = try builder.norm("\(prefix).skip_norm", h, groups: quarter(channels), eps: config.normEps, silu: true)
                    let image = try builder.conv("\(prefix).skip_conv", n, outChannels: 3, kernel: 3)
                    upSkip = try upSkip.map { s throws(ModelLoadError) in try builder.add(s, image, context: "\(prefix).skip_conv") } ?? image
                    h = try resnet("\(prefix).resnet_up", h, outChannels: channels, groups: (quarter(channels), quarter(channels)),
                                   outputScale: Self.skipScale, resample: .up, shortcut: true)
                } else if !last {
                    h = try builder.conv("\(prefix).upsamplers.0.conv", builder.upsample(h), outChannels: channels, kernel: 3)
                }
            }
            h = try builder.norm("conv_norm_out", h, groups: config.normNumGroups ?? quarter(c0), eps: config.normEps, silu: true,
                                 inPlace: true)
            h = try builder.conv("conv_out", h, outChannels: config.outChannels, kernel: 3)
            if let s = upSkip { h = try builder.add(h, s, context: "the skip blocks' output") }
            try builder.finish(output: h, network: "unet2d")
        }

        /// min(C/4, 32): the skip blocks' GroupNorm groups.
        func quarter(_ channels: Int) -> Int { ProgramBuilder.quarterGroups(channels) }

        /// ResnetBlock2D: conv2(silu(norm2(conv1(r(silu(norm1(x)))) + proj(silu(emb))))) plus
        /// the shortcut of r(x), over `output_scale_factor`, where r is the FIR resampling
        /// (`up`/`down` with kernel "fir") or nothing. conv1's bias joins the time projection.
        mutating func resnet(_ prefix: String, _ input: Int, outChannels: Int, groups: (Int, Int), outputScale: Double,
                             resample: Resample = .none, shortcut: Bool = false) throws(ModelLoadError) -> Int {
            var h = try builder.norm("\(prefix).norm1", input, groups: groups.0, eps: config.normEps, silu: true)
            var x = input
            if resample != .none {
                h = builder.fir(h, taps: Self.firTaps, up: resample == .up)
                x = builder.fir(x, taps: Self.firTaps, up: resample == .up)
            }
            let c1 = try builder.conv("\(prefix).conv1", h, outChannels: outChannels, kernel: 3, bias: false)
            let shift = try builder.timeShift(weight: "\(prefix).time_emb_proj.weight", bias: "\(prefix).time_emb_proj.bias",
                                              extraBias: try builder.values("\(prefix).conv1.bias", [outChannels]),
                                              embedding: config.timeEmbeddingDim)
            let n2 = try builder.norm("\(prefix).norm2", c1, groups: groups.1, eps: config.normEps, silu: true, inPlace: true,
                                      shift: shift)
            let c2 = try builder.conv("\(prefix).conv2", n2, outChannels: outChannels, kernel: 3)
            if shortcut || builder.shape(x).c != outChannels {
                x = try builder.conv("\(prefix).conv_shortcut", x, outChannels: outChannels, kernel: 1)
            }
            return try builder.add(x, c2, scale: 1 / outputScale, context: prefix)
        }

        /// diffusers' attention block, under either naming scheme (`to_q`… or the older
        /// `query`/`key`/`value`/`proj_attn`).
        mutating func attention(_ prefix: String, _ input: Int, groups: Int, rescale: Double) throws(ModelLoadError) -> Int {
            let c = builder.shape(input).c
            let headDim = config.attentionHeadDim ?? c
            guard headDim <= c else {
                throw ModelLoadError(file: builder.dict.path, subject: "attention_head_dim",
                                     "\(headDim) exceeds the \(c) channels of '\(prefix)'")
            }
            let old = !builder.dict.contains("\(prefix).to_q.weight") && builder.dict.contains("\(prefix).query.weight")
            let names = old ? ["query", "key", "value", "proj_attn"] : ["to_q", "to_k", "to_v", "to_out.0"]
            return try builder.attention(norm: "\(prefix).group_norm",
                                         projections: names.map { ("\(prefix).\($0).weight", "\(prefix).\($0).bias") },
                                         input, heads: c / headDim, headDim: headDim, groups: groups, eps: config.normEps, rescale: rescale,
                                         nin: false)
        }
    }
}
