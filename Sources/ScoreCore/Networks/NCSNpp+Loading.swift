extension UNet2D {
    /// Builds score_sde's NCSN++ / DDPM++ from its `state_dict` (`all_modules.N.…`, as
    /// `Models/recipes/convert_score_sde.py` writes it) for images of `shape` [C, H, W]:
    /// every tensor the config implies is read with its shape checked, and one it does not
    /// imply is an error.
    static func loadNCSNpp(_ file: SafeTensors, path: String, config: NCSNppConfig, shape: [Int],
                           sde: SDE) throws(ModelLoadError) -> UNet2D {
        guard [.vp, .subvp, .ve].contains(sde.kind) else {
            throw ModelLoadError(file: path, subject: "sde.type",
                                 "'\(sde.kind.rawValue)': score_sde's continuous ncsnpp models run on vp, subvp or ve")
        }
        if config.scaleBySigma && config.embedding == .positional {
            // ncsnpp.py indexes its sigmas table by ⌊input⌋: 999·t, or σ(t) on VE.
            let top = sde.kind == .ve ? sde.marginalStd(1).rounded(.down) : 999
            guard top < Double(config.numScales) else {
                throw ModelLoadError(file: path, subject: "network.num_scales",
                                     "\(config.numScales): scale_by_sigma with the positional embedding indexes score_sde's sigmas table at ⌊input⌋ up to \(top), past its end")
            }
        }
        var builder = try ProgramBuilder(file, path: path)
        builder.dict.implied = "as config.json's network implies: nf \(config.nf), ch_mult \(config.chMult), num_res_blocks \(config.numResBlocks), attn_resolutions \(config.attnResolutions), resblock_type \(config.resblockType.rawValue), progressive \(config.progressive.rawValue), progressive_input \(config.progressiveInput.rawValue), embedding_type \(config.embedding.rawValue), conditional \(config.conditional), data.shape \(shape)"
        var walk = ScoreSDEWalk(builder: builder, config: config, shape: shape)
        try walk.build()
        let b = walk.builder
        return UNet2D(sde: sde, kind: .scoreSDE(config), storage: b.storage, program: b.program, parameterCount: b.parameterCount)
    }

    /// Walks `NCSNpp.forward` (score_sde's models/ncsnpp.py, layerspp.py), numbering the
    /// modules as its `all_modules` list does.
    struct ScoreSDEWalk {
        var builder: ProgramBuilder
        let config: NCSNppConfig
        let shape: [Int]
        /// The next module's index in `all_modules`.
        var index = 0

        /// score_sde's GroupNorm eps.
        static let eps = 1e-6

        /// The next module's prefix.
        mutating func module() -> String {
            defer { index += 1 }
            return "all_modules.\(index)"
        }

        /// min(C/4, 32), as every GroupNorm of ncsnpp computes its groups.
        func groups(_ channels: Int) -> Int { ProgramBuilder.quarterGroups(channels) }

        var residualScale: Double { config.skipRescale ? 1 / 2.0.squareRoot() : 1 }

        mutating func build() throws(ModelLoadError) {
            let nf = config.nf, channels = shape[0], levels = config.chMult.count
            let embedDim = config.embedding == .fourier ? 2 * nf : nf
            builder.program.timeInputDim = embedDim
            builder.program.timeEmbedDim = 4 * nf
            builder.program.time.conditional = config.conditional
            if config.embedding == .fourier {
                builder.program.time.features = .fourier
                builder.program.time.fourier = try builder.tensor("\(module()).W", [nf])
            } else {
                // layers.get_timestep_embedding: [sin, cos] of τ·e^{−ln(10⁴)·j/(half − 1)}.
                builder.program.time.features = .positional(flipSinToCos: false, shift: 1)
            }
            if config.conditional {
                let d0 = module(), d1 = module()
                builder.program.time.weight1 = try builder.tensor("\(d0).weight", [4 * nf, embedDim])
                builder.program.time.bias1 = try builder.tensor("\(d0).bias", [4 * nf])
                builder.program.time.weight2 = try builder.tensor("\(d1).weight", [4 * nf, 4 * nf])
                builder.program.time.bias2 = try builder.tensor("\(d1).bias", [4 * nf])
            }

            var x = builder.value(channels, shape[1], shape[2])   // value 0: the input
            if !config.centered { x = builder.affine(x, scale: 2, shift: -1) }
            var inputPyramid = x
            var h = try builder.conv(module(), x, outChannels: nf, kernel: 3)
            var hs = [h]
            let resolutions = (0..<levels).map { shape[1] >> $0 }
            for level in 0..<levels {
                for _ in 0..<config.numResBlocks {
                    h = try resnet(hs.last!, outChannels: nf * config.chMult[level])
                    if config.attnResolutions.contains(builder.shape(h).w) { h = try attention(h) }
                    hs.append(h)
                }
                guard level != levels - 1 else { continue }
                h = config.resblockType == .ddpm ? downsample(hs.last!)
                    : try resnet(hs.last!, outChannels: builder.shape(hs.last!).c, resample: .down)
                switch config.progressiveInput {
                case .none: break
                case .inputSkip:
                    inputPyramid = pyramidDownsample(inputPyramid)
                    let name = module()
                    let projected = try builder.conv(name + ".Conv_0", inputPyramid, outChannels: builder.shape(h).c, kernel: 1)
                    h = config.progressiveCombine == .cat ? try builder.concat(projected, h)
                        : try builder.add(projected, h, context: name)
                case .residual:
                    inputPyramid = try downsample(inputPyramid, outChannels: builder.shape(h).c)
                    inputPyramid = try builder.add(inputPyramid, h, scale: residualScale, context: "all_modules.\(index - 1)")
                    h = inputPyramid
                }
                hs.append(h)
            }
            h = try resnet(hs.last!, outChannels: builder.shape(hs.last!).c)
            h = try attention(h)
            h = try resnet(h, outChannels: builder.shape(h).c)

            var pyramid: Int?
            for level in (0..<levels).reversed() {
                for _ in 0...config.numResBlocks {
                    h = try resnet(try builder.concat(h, hs.removeLast()), outChannels: nf * config.chMult[level])
                }
                if config.attnResolutions.contains(resolutions[level]) { h = try attention(h) }
                switch config.progressive {
                case .none: break
                case .outputSkip:
                    if let p = pyramid { pyramid = pyramidUpsample(p) }
                    let normed = try builder.norm(module(), h, groups: groups(builder.shape(h).c), eps: Self.eps, silu: true)
                    let image = try builder.conv(module(), normed, outChannels: channels, kernel: 3)
                    pyramid = try pyramid.map { p throws(ModelLoadError) in try builder.add(p, image, context: "all_modules.\(index - 1)") } ?? image
                case .residual:
                    // Only with one level (NCSNppConfig refuses more): the pyramid's norm
                    // and conv exist but reach no output, so they are read, not run.
                    precondition(levels == 1, "refused by NCSNppConfig.parse")
                    let c = builder.shape(h).c, norm = module(), conv = module()
                    _ = try builder.values("\(norm).weight", [c])
                    _ = try builder.values("\(norm).bias", [c])
                    _ = try builder.values("\(conv).weight", [c, c, 3, 3])
                    _ = try builder.values("\(conv).bias", [c])
                }
                if level != 0 {
                    h = config.resblockType == .ddpm ? upsample(h) : try resnet(h, outChannels: builder.shape(h).c, resample: .up)
                }
            }
            if config.progressive == .outputSkip {
                h = pyramid!
            } else {
                let normed = try builder.norm(module(), h, groups: groups(builder.shape(h).c), eps: Self.eps, silu: true)
                h = try builder.conv(module(), normed, outChannels: channels, kernel: 3)
            }
            try builder.finish(output: h, network: "ncsnpp")
        }

        typealias Resample = ProgramBuilder.Resample

        /// ResnetBlockBigGANpp (`resample` up or down by FIR or naively, `Conv_2` 1×1 when
        /// the channels change or it resamples) or ResnetBlockDDPMpp (`NIN_0` when the
        /// channels change): Conv_1(act(GN_1(Conv_0(r(act(GN_0(x)))) + Dense_0(act(temb)))))
        /// plus the shortcut of r(x), over √2 when `skip_rescale`. Conv_0's bias joins the
        /// time projection.
        mutating func resnet(_ input: Int, outChannels out: Int, resample: Resample = .none) throws(ModelLoadError) -> Int {
            let name = module(), inChannels = builder.shape(input).c
            var h = try builder.norm("\(name).GroupNorm_0", input, groups: groups(inChannels), eps: Self.eps, silu: true)
            var x = input
            if resample != .none {
                h = resampled(h, up: resample == .up)
                x = resampled(x, up: resample == .up)
            }
            let shift: Int?
            if config.conditional {
                h = try builder.conv(weight: "\(name).Conv_0.weight", bias: nil, h, outChannels: out, kernel: 3, padding: .same)
                shift = try builder.timeShift(weight: "\(name).Dense_0.weight", bias: "\(name).Dense_0.bias",
                                              extraBias: try builder.values("\(name).Conv_0.bias", [out]), embedding: 4 * config.nf)
            } else {
                // Dense_0 exists (ncsnpp.py always passes temb_dim) but temb is None.
                h = try builder.conv("\(name).Conv_0", h, outChannels: out, kernel: 3)
                _ = try builder.values("\(name).Dense_0.weight", [out, 4 * config.nf])
                _ = try builder.values("\(name).Dense_0.bias", [out])
                shift = nil
            }
            h = try builder.norm("\(name).GroupNorm_1", h, groups: groups(out), eps: Self.eps, silu: true, inPlace: true, shift: shift)
            h = try builder.conv("\(name).Conv_1", h, outChannels: out, kernel: 3)
            if config.resblockType == .biggan {
                if inChannels != out || resample != .none { x = try builder.conv("\(name).Conv_2", x, outChannels: out, kernel: 1) }
            } else if inChannels != out {
                x = try builder.conv(weight: "\(name).NIN_0.W", bias: "\(name).NIN_0.b", x, outChannels: out, kernel: 1,
                                     padding: .init(before: 0, after: 0), nin: true)
            }
            return try builder.add(x, h, scale: residualScale, context: name)
        }

        /// The BigGAN block's resampling: FIR `upsample_2d` / `downsample_2d` with
        /// `fir_kernel`, or `naive_upsample_2d` (nearest) / `naive_downsample_2d` (2×2 mean).
        mutating func resampled(_ input: Int, up: Bool) -> Int {
            if config.fir { return builder.fir(input, taps: config.firKernel, up: up) }
            return up ? builder.upsample(input) : builder.averagePool(input)
        }

        /// AttnBlockpp: one head over all positions, projections NIN_0…NIN_3, (x + h)/√2
        /// when `skip_rescale`.
        mutating func attention(_ input: Int) throws(ModelLoadError) -> Int {
            let name = module(), c = builder.shape(input).c
            return try builder.attention(norm: "\(name).GroupNorm_0",
                                         projections: (0..<4).map { ("\(name).NIN_\($0).W", "\(name).NIN_\($0).b") },
                                         input, heads: 1, headDim: c, groups: groups(c), eps: Self.eps,
                                         rescale: config.skipRescale ? 2.0.squareRoot() : 1, nin: true)
        }

        /// A ddpm block's layerspp.Downsample, a module of its own, in the one form score_sde
        /// can run with it (fir, no conv: `NCSNppConfig` refuses the others): FIR
        /// `downsample_2d`; the module has no tensors.
        mutating func downsample(_ input: Int) -> Int {
            index += 1
            precondition(config.fir && !config.resampWithConv, "refused by NCSNppConfig.parse")
            return pyramidDownsample(input)
        }

        /// The input pyramid's `residual` layerspp.Downsample (a module of its own, with a
        /// conv to `outChannels`): FIR pad then a stride-2 `Conv2d_0`, or pad (0, 1) then a
        /// stride-2 `Conv_0`.
        mutating func downsample(_ input: Int, outChannels out: Int) throws(ModelLoadError) -> Int {
            let name = module()
            if config.fir {
                let padded = builder.fir(input, taps: config.firKernel, up: false, beforeStridedConv: true)
                return try builder.conv("\(name).Conv2d_0", padded, outChannels: out, kernel: 3, stride: 2,
                                        padding: .init(before: 0, after: 0))
            }
            return try builder.conv("\(name).Conv_0", input, outChannels: out, kernel: 3, stride: 2,
                                    padding: .init(before: 0, after: 1))
        }

        /// layerspp.Upsample, a module of its own, in the one form score_sde can run (fir, no
        /// conv: `NCSNppConfig` refuses the others): FIR `upsample_2d`.
        mutating func upsample(_ input: Int) -> Int {
            index += 1
            return pyramidUpsample(input)
        }

        /// `pyramid_downsample` without a conv (not in `all_modules`): FIR or 2×2 mean.
        mutating func pyramidDownsample(_ input: Int) -> Int {
            config.fir ? builder.fir(input, taps: config.firKernel, up: false) : builder.averagePool(input)
        }

        /// `pyramid_upsample` (not in `all_modules`): FIR `upsample_2d` (without fir it
        /// cannot run, see `NCSNppConfig`).
        mutating func pyramidUpsample(_ input: Int) -> Int {
            precondition(config.fir, "refused by NCSNppConfig.parse")
            return builder.fir(input, taps: config.firKernel, up: true)
        }
    }
}
