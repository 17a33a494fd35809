extension UNet2D {
    /// Builds the network from a UNet2DModel `state_dict` (`file` at `path`) and its
    /// config: every tensor the config implies is read with its shape checked (F32, F16,
    /// BF16 or F64, kept as Float32), both attention naming schemes are accepted, and a
    /// tensor the config does not imply is an error.
    static func load(_ file: SafeTensors, path: String, config: UNet2DConfig, sde: SDE,
                     prediction: Prediction?) throws(ModelLoadError) -> UNet2D {
        var b = try Builder(file, path: path, config: config)
        try b.build()
        return UNet2D(sde: sde, config: config, prediction: prediction, storage: b.storage, program: b.program,
                      parameterCount: b.parameterCount)
    }

    /// Walks UNet2DModel's forward, reading tensors and emitting operations.
    struct Builder {
        let dict: StateDict
        let config: UNet2DConfig
        var storage: [Float] = []
        var program = Program()
        var used: Set<String> = []
        /// Values of the tensors read (the stored weights hold conv1 biases folded in).
        var parameterCount = 0
        /// The resnets' time projections, stacked after the walk (one GEMV gives them all).
        var shiftWeights: [Float] = [], shiftBias: [Float] = []

        init(_ file: SafeTensors, path: String, config: UNet2DConfig) throws(ModelLoadError) {
            dict = try StateDict(file, path: path)
            self.config = config
        }

        mutating func tensor(_ name: String, _ shape: [Int]) throws(ModelLoadError) -> Int {
            let offset = storage.count
            storage += try values(name, shape)
            return offset
        }

        mutating func values(_ name: String, _ shape: [Int]) throws(ModelLoadError) -> [Float] {
            used.insert(name)
            let v = try dict.values(name, shape)
            parameterCount += v.count
            return v
        }

        mutating func value(_ c: Int, _ h: Int, _ w: Int) -> Int {
            program.shapes.append((c, h, w))
            return program.shapes.count - 1
        }

        func groupsCheck(_ channels: Int, _ groups: Int, _ name: String) throws(ModelLoadError) {
            guard channels % groups == 0 else {
                throw dict.error(name, "\(channels) channels do not split into the config's \(groups) GroupNorm groups")
            }
        }

        mutating func build() throws(ModelLoadError) {
            let c0 = config.blockOutChannels[0], e = config.timeEmbeddingDim
            program.timeInputDim = config.fourier ? 2 * c0 : c0
            program.timeEmbedDim = e
            if config.fourier {
                // GaussianFourierProjection(embedding_size: c0): its fixed frequencies W.
                program.time.fourier = try tensor("time_proj.weight", [c0])
            } else if Double(c0 / 2) - config.freqShift == 0 {
                throw ModelLoadError(file: dict.path, subject: "freq_shift", "equals half of block_out_channels[0]: the embedding's frequencies divide by zero")
            }
            program.time.weight1 = try tensor("time_embedding.linear_1.weight", [e, program.timeInputDim])
            program.time.bias1 = try tensor("time_embedding.linear_1.bias", [e])
            program.time.weight2 = try tensor("time_embedding.linear_2.weight", [e, e])
            program.time.bias2 = try tensor("time_embedding.linear_2.bias", [e])

            var h = value(config.inChannels, config.height, config.width)   // value 0: the input
            if config.centerInputSample {
                let centered = value(config.inChannels, config.height, config.width)
                program.ops.append(.affine(input: h, output: centered, scale: 2, shift: -1))
                h = centered
            }
            h = try conv("conv_in", h, outChannels: c0, kernel: 3, stride: 1, padding: .same)
            var skips = [h]
            for (i, block) in config.downBlocks.enumerated() {
                let channels = config.blockOutChannels[i]
                for j in 0..<config.layersPerBlock {
                    h = try resnet("down_blocks.\(i).resnets.\(j)", h, outChannels: channels, outputScale: 1)
                    if block.attention {
                        h = try attention("down_blocks.\(i).attentions.\(j)", h, groups: config.normNumGroups, rescale: 1)
                    }
                    skips.append(h)
                }
                if i < config.downBlocks.count - 1 {
                    let padding = config.downsamplePadding == 1 ? Convolution.Padding.same : .init(before: 0, after: 1)
                    h = try conv("down_blocks.\(i).downsamplers.0.conv", h, outChannels: channels, kernel: 3, stride: 2,
                                 padding: padding)
                    skips.append(h)
                }
            }
            if config.midBlock {
                let scale = config.midBlockScaleFactor
                h = try resnet("mid_block.resnets.0", h, outChannels: program.shapes[h].c, outputScale: scale)
                if config.addAttention {
                    h = try attention("mid_block.attentions.0", h, groups: config.attnNormNumGroups ?? config.normNumGroups,
                                      rescale: scale)
                }
                h = try resnet("mid_block.resnets.1", h, outChannels: program.shapes[h].c, outputScale: scale)
            }
            let reversed = Array(config.blockOutChannels.reversed())
            for (i, block) in config.upBlocks.enumerated() {
                for j in 0...config.layersPerBlock {
                    let skip = skips.removeLast(), s = program.shapes[h], k = program.shapes[skip]
                    let joined = value(s.c + k.c, s.h, s.w)
                    program.ops.append(.concat(h, skip, output: joined))
                    h = try resnet("up_blocks.\(i).resnets.\(j)", joined, outChannels: reversed[i], outputScale: 1)
                    if block.attention {
                        h = try attention("up_blocks.\(i).attentions.\(j)", h, groups: config.normNumGroups, rescale: 1)
                    }
                }
                if i < config.upBlocks.count - 1 {
                    let s = program.shapes[h], up = value(s.c, 2 * s.h, 2 * s.w)
                    program.ops.append(.upsample(input: h, output: up, channels: s.c, height: s.h, width: s.w))
                    h = try conv("up_blocks.\(i).upsamplers.0.conv", up, outChannels: s.c, kernel: 3, stride: 1,
                                 padding: .same)
                }
            }
            h = try norm("conv_norm_out", h, groups: config.normNumGroups, silu: true, inPlace: true, shift: nil)
            h = try conv("conv_out", h, outChannels: config.outChannels, kernel: 3, stride: 1, padding: .same)
            program.output = h

            // The stacked time projections: rows of every resnet, each bias plus its conv1 bias.
            program.shiftRows = shiftBias.count
            program.time.shiftWeight = storage.count
            storage += shiftWeights
            program.time.shiftBias = storage.count
            storage += shiftBias
            try dict.rejectUnexpected(used, network: "unet2d")
            program.place()
        }

        /// A Conv2d with bias named `prefix`.
        mutating func conv(_ prefix: String, _ input: Int, outChannels: Int, kernel: Int, stride: Int,
                           padding: Convolution.Padding, bias: Bool = true) throws(ModelLoadError) -> Int {
            let s = program.shapes[input]
            let oh = kernel == 1 ? s.h : Convolution.convolvedSize(s.h, stride: stride, padding: padding)
            let ow = kernel == 1 ? s.w : Convolution.convolvedSize(s.w, stride: stride, padding: padding)
            let winograd = kernel == 3 && stride == 1 && padding == .same && oh * ow >= Program.Conv.winogradPositions
            let weight: Int
            if winograd {
                let raw = try values("\(prefix).weight", [outChannels, s.c, 3, 3])
                weight = storage.count
                storage += Winograd.transformWeights(raw, outChannels: outChannels, inChannels: s.c)
            } else {
                weight = try tensor("\(prefix).weight", [outChannels, s.c, kernel, kernel])
            }
            let biasOffset = bias ? try tensor("\(prefix).bias", [outChannels]) : nil
            let out = value(outChannels, oh, ow)
            let op = Program.Conv(input: input, output: out, weight: weight, bias: biasOffset,
                                  inChannels: s.c, outChannels: outChannels, kernel: kernel, stride: stride,
                                  padding: padding, inHeight: s.h, inWidth: s.w, outHeight: oh, outWidth: ow,
                                  winograd: winograd)
            program.ops.append(.conv(op))
            if kernel == 3 { program.maxBandFloats = Swift.max(program.maxBandFloats, op.bandFloats) }
            program.flops += 2 * Double(outChannels * s.c * kernel * kernel * oh * ow)
            return out
        }

        /// A GroupNorm named `prefix` (optionally silu after it, optionally in place).
        mutating func norm(_ prefix: String, _ input: Int, groups: Int, silu: Bool, inPlace: Bool,
                           shift: Int?) throws(ModelLoadError) -> Int {
            let s = program.shapes[input]
            try groupsCheck(s.c, groups, "\(prefix).weight")
            let gamma = try tensor("\(prefix).weight", [s.c]), beta = try tensor("\(prefix).bias", [s.c])
            let out = inPlace ? input : value(s.c, s.h, s.w)
            program.ops.append(.norm(.init(input: input, output: out, channels: s.c, spatial: s.h * s.w, groups: groups,
                                           eps: config.normEps, gamma: gamma, beta: beta, shift: shift, silu: silu)))
            return out
        }

        /// ResnetBlock2D: conv2(silu(norm2(conv1(silu(norm1(x))) + proj(silu(emb))))) plus the
        /// shortcut, over `output_scale_factor`. conv1's bias joins the time projection.
        mutating func resnet(_ prefix: String, _ input: Int, outChannels: Int, outputScale: Double) throws(ModelLoadError) -> Int {
            let s = program.shapes[input], e = config.timeEmbeddingDim
            let n1 = try norm("\(prefix).norm1", input, groups: config.normNumGroups, silu: true, inPlace: false, shift: nil)
            let c1 = try conv("\(prefix).conv1", n1, outChannels: outChannels, kernel: 3, stride: 1, padding: .same, bias: false)
            let conv1Bias = try values("\(prefix).conv1.bias", [outChannels])
            let projection = try values("\(prefix).time_emb_proj.weight", [outChannels, e])
            let projectionBias = try values("\(prefix).time_emb_proj.bias", [outChannels])
            let shift = shiftBias.count
            shiftWeights += projection
            shiftBias += zip(projectionBias, conv1Bias).map { $0 + $1 }
            let n2 = try norm("\(prefix).norm2", c1, groups: config.normNumGroups, silu: true, inPlace: true, shift: shift)
            let c2 = try conv("\(prefix).conv2", n2, outChannels: outChannels, kernel: 3, stride: 1, padding: .same)
            var shortcut = input
            if s.c != outChannels {
                shortcut = try conv("\(prefix).conv_shortcut", input, outChannels: outChannels, kernel: 1, stride: 1,
                                    padding: .init(before: 0, after: 0))
            }
            let out = value(outChannels, s.h, s.w)
            program.ops.append(.add(shortcut, c2, output: out, scale: Float(1 / outputScale)))
            return out
        }

        /// diffusers' attention block, under either naming scheme (`to_q`… or the older
        /// `query`/`key`/`value`/`proj_attn`).
        mutating func attention(_ prefix: String, _ input: Int, groups: Int, rescale: Double) throws(ModelLoadError) -> Int {
            let s = program.shapes[input], c = s.c, p = s.h * s.w
            let headDim = config.attentionHeadDim ?? c
            let heads = c / headDim
            guard heads >= 1 else {
                throw ModelLoadError(file: dict.path, subject: "attention_head_dim",
                                     "\(headDim) exceeds the \(c) channels of '\(prefix)'")
            }
            let inner = heads * headDim
            let old = !dict.contains("\(prefix).to_q.weight") && dict.contains("\(prefix).query.weight")
            let names = old ? ("query", "key", "value", "proj_attn") : ("to_q", "to_k", "to_v", "to_out.0")
            try groupsCheck(c, groups, "\(prefix).group_norm.weight")
            let gamma = try tensor("\(prefix).group_norm.weight", [c]), beta = try tensor("\(prefix).group_norm.bias", [c])
            let q = try tensor("\(prefix).\(names.0).weight", [inner, c]), qb = try tensor("\(prefix).\(names.0).bias", [inner])
            let k = try tensor("\(prefix).\(names.1).weight", [inner, c]), kb = try tensor("\(prefix).\(names.1).bias", [inner])
            let v = try tensor("\(prefix).\(names.2).weight", [inner, c]), vb = try tensor("\(prefix).\(names.2).bias", [inner])
            let o = try tensor("\(prefix).\(names.3).weight", [c, inner]), ob = try tensor("\(prefix).\(names.3).bias", [c])
            let out = value(c, s.h, s.w)
            program.ops.append(.attention(.init(
                input: input, output: out, channels: c, positions: p, groups: groups, eps: config.normEps,
                gamma: gamma, beta: beta, q: q, qBias: qb, k: k, kBias: kb, v: v, vBias: vb, out: o, outBias: ob,
                heads: heads, headDim: headDim, scale: Float(1 / Double(headDim).squareRoot()),
                inverseRescale: Float(1 / rescale))))
            let m = program.maxAttention
            program.maxAttention = (Swift.max(m.channels, c), Swift.max(m.positions, p), Swift.max(m.inner, inner))
            let projections = 4 * inner * c * p, products = 2 * p * p * inner
            program.flops += 2 * Double(projections + products)
            return out
        }
    }
}
