/// The primitives both U-Net walks compile with (diffusers' UNet2DModel in
/// `UNet2D+Loading.swift`, score_sde's NCSN++ in `NCSNpp+Loading.swift`): each reads its
/// tensors from the `state_dict` with their shapes checked, appends them to `storage`,
/// and emits an operation over a new value. A walk ends with `finish`, which refuses
/// tensors it did not read and places the values.
struct ProgramBuilder {
    var dict: StateDict
    var storage: [Float] = []
    var program = Program()
    var used: Set<String> = []
    /// Values of the tensors read (the stored weights hold conv biases folded in).
    var parameterCount = 0
    /// The resnets' time projections, stacked by `finish` (one GEMV gives them all).
    var shiftWeights: [Float] = [], shiftBias: [Float] = []

    init(_ file: SafeTensors, path: String) throws(ModelLoadError) {
        dict = try StateDict(file, path: path)
        // At most 36/9 of the file's values (Winograd's 3×3 kernels) plus FIR kernels:
        // reserved once, so the array never reallocates (a copy of it at its largest would
        // double the peak while loading); pages not written are never resident.
        let values = file.tensors.reduce(0) { $0 + $1.elementCount }
        storage.reserveCapacity(4 * values + (1 << 16))
    }

    mutating func tensor(_ name: String, _ shape: [Int]) throws(ModelLoadError) -> Int {
        let offset = storage.count
        storage += try values(name, shape)
        return offset
    }

    /// A `[rows × cols]` tensor stored transposed, `[cols × rows]` (score_sde's NIN `W` is
    /// `[in × out]`; the GEMMs read `[out × in]`).
    mutating func transposed(_ name: String, rows: Int, cols: Int) throws(ModelLoadError) -> Int {
        let v = try values(name, [rows, cols]), offset = storage.count
        for c in 0..<cols { for r in 0..<rows { storage.append(v[r * cols + c]) } }
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

    func shape(_ id: Int) -> (c: Int, h: Int, w: Int) { program.shapes[id] }

    /// How the U-Nets resample inside a resnet block (both paths alike).
    enum Resample { case none, up, down }

    /// min(C/4, 32): the GroupNorm groups NCSN++ uses throughout (score_sde's blocks,
    /// diffusers' skip blocks).
    static func quarterGroups(_ channels: Int) -> Int { Swift.min(channels / 4, 32) }

    func groupsCheck(_ channels: Int, _ groups: Int, _ name: String) throws(ModelLoadError) {
        guard groups >= 1, channels % groups == 0 else {
            throw dict.error(name, "\(channels) channels do not split into \(groups) GroupNorm groups")
        }
    }

    /// A convolution with weight `[out × in × k × k]` named `weight` (or, `nin`, score_sde's
    /// 1×1 `NIN` with `W` `[in × out]`) and bias `bias` (nil: none).
    mutating func conv(weight: String, bias: String?, _ input: Int, outChannels: Int, kernel: Int, stride: Int = 1,
                       padding: Convolution.Padding, nin: Bool = false) throws(ModelLoadError) -> Int {
        let s = shape(input)
        let oh = kernel == 1 ? s.h : Convolution.convolvedSize(s.h, stride: stride, padding: padding)
        let ow = kernel == 1 ? s.w : Convolution.convolvedSize(s.w, stride: stride, padding: padding)
        let winograd = kernel == 3 && stride == 1 && padding == .same && oh * ow >= Program.Conv.winogradPositions
        let winogradTile = !winograd ? 0 : oh * ow >= Program.Conv.winogradF4Positions ? 4 : 2
        let offset: Int
        if winograd {
            let raw = try values(weight, [outChannels, s.c, 3, 3])
            offset = storage.count
            storage += winogradTile == 4 ? WinogradF4.transformWeights(raw, outChannels: outChannels, inChannels: s.c)
                : Winograd.transformWeights(raw, outChannels: outChannels, inChannels: s.c)
        } else if nin {
            offset = try transposed(weight, rows: s.c, cols: outChannels)
        } else {
            offset = try tensor(weight, [outChannels, s.c, kernel, kernel])
        }
        let biasOffset = try bias.map { name throws(ModelLoadError) in try tensor(name, [outChannels]) }
        let out = value(outChannels, oh, ow)
        let op = Program.Conv(input: input, output: out, weight: offset, bias: biasOffset,
                              inChannels: s.c, outChannels: outChannels, kernel: kernel, stride: stride,
                              padding: padding, inHeight: s.h, inWidth: s.w, outHeight: oh, outWidth: ow,
                              winogradTile: winogradTile)
        program.ops.append(.conv(op))
        if kernel == 3 { program.maxBandFloats = Swift.max(program.maxBandFloats, op.bandFloats) }
        program.flops += 2 * Double(outChannels * s.c * kernel * kernel * oh * ow)
        return out
    }

    /// A Conv2d named `prefix` (`.weight`, `.bias`), same-padded when 3×3.
    mutating func conv(_ prefix: String, _ input: Int, outChannels: Int, kernel: Int, stride: Int = 1,
                       padding: Convolution.Padding? = nil, bias: Bool = true) throws(ModelLoadError) -> Int {
        try conv(weight: "\(prefix).weight", bias: bias ? "\(prefix).bias" : nil, input, outChannels: outChannels,
                 kernel: kernel, stride: stride, padding: padding ?? (kernel == 1 ? .init(before: 0, after: 0) : .same))
    }

    /// A GroupNorm named `prefix` (optionally silu after it, optionally in place, optionally
    /// after the per-channel time shift at `shift`).
    mutating func norm(_ prefix: String, _ input: Int, groups: Int, eps: Double, silu: Bool, inPlace: Bool = false,
                       shift: Int? = nil) throws(ModelLoadError) -> Int {
        let s = shape(input)
        try groupsCheck(s.c, groups, "\(prefix).weight")
        let gamma = try tensor("\(prefix).weight", [s.c]), beta = try tensor("\(prefix).bias", [s.c])
        let out = inPlace ? input : value(s.c, s.h, s.w)
        program.ops.append(.norm(.init(input: input, output: out, channels: s.c, spatial: s.h * s.w, groups: groups,
                                       eps: eps, gamma: gamma, beta: beta, shift: shift, silu: silu)))
        return out
    }

    /// A resnet's time projection `projection` (`[out × embedding]`, with its bias) plus
    /// `extraBias` (its first conv's bias, folded in): the offset of its rows in the shifts.
    mutating func timeShift(weight: String, bias: String, extraBias: [Float], embedding: Int) throws(ModelLoadError) -> Int {
        let rows = extraBias.count
        let projection = try values(weight, [rows, embedding]), projectionBias = try values(bias, [rows])
        let shift = shiftBias.count
        shiftWeights += projection
        shiftBias += zip(projectionBias, extraBias).map { $0 + $1 }
        return shift
    }

    /// Self-attention over positions (diffusers' attention block, score_sde's AttnBlockpp):
    /// out = (proj(attention(q, k, v of group_norm(x))) + x) / rescale. `names` are the
    /// group norm's prefix and the four projections' weight and bias names; `nin`: the
    /// projections are score_sde's `[in × out]` NINs.
    mutating func attention(norm: String, projections names: [(weight: String, bias: String)], _ input: Int,
                            heads: Int, headDim: Int, groups: Int, eps: Double, rescale: Double,
                            nin: Bool) throws(ModelLoadError) -> Int {
        let s = shape(input), c = s.c, p = s.h * s.w, inner = heads * headDim
        try groupsCheck(c, groups, "\(norm).weight")
        let gamma = try tensor("\(norm).weight", [c]), beta = try tensor("\(norm).bias", [c])
        var w: [Int] = [], b: [Int] = []
        for (i, name) in names.enumerated() {
            let (rows, cols) = i < 3 ? (inner, c) : (c, inner)
            w.append(nin ? try transposed(name.weight, rows: cols, cols: rows) : try tensor(name.weight, [rows, cols]))
            b.append(try tensor(name.bias, [rows]))
        }
        let out = value(c, s.h, s.w)
        program.ops.append(.attention(.init(
            input: input, output: out, channels: c, positions: p, groups: groups, eps: eps,
            gamma: gamma, beta: beta, q: w[0], qBias: b[0], k: w[1], kBias: b[1], v: w[2], vBias: b[2], out: w[3], outBias: b[3],
            heads: heads, headDim: headDim, scale: Float(1 / Double(headDim).squareRoot()),
            inverseRescale: Float(1 / rescale))))
        let m = program.maxAttention
        program.maxAttention = (Swift.max(m.channels, c), Swift.max(m.positions, p), Swift.max(m.inner, inner))
        let projections = 4 * inner * c * p, products = 2 * p * p * inner
        program.flops += 2 * Double(projections + products)
        return out
    }

    /// FIR resampling by 2 (`up` or down) with the 1-D `taps` (score_sde's and diffusers'
    /// `upsample_2d` / `downsample_2d`: pads ((p+1)/2 + 1, p/2) up, ((p+1)/2, p/2) down,
    /// p = taps − 2); `beforeStridedConv`: the filter of `conv_downsample_2d`, which pads
    /// by 2 more (a 3×3 kernel's) and leaves the decimation to a stride-2 convolution.
    mutating func fir(_ input: Int, taps: [Double], up: Bool, beforeStridedConv: Bool = false) -> Int {
        let s = shape(input), k = taps.count, p = k - 2 + (beforeStridedConv ? 2 : 0)
        // Python's // rounds down: a one-tap kernel (p = −1) crops by one.
        func half(_ v: Int) -> Int { v >= 0 ? v / 2 : -((1 - v) / 2) }
        let pad = up ? (half(p + 1) + 1, half(p)) : (half(p + 1), half(p))
        let factor = up ? 2 : 1, decimate = up || beforeStridedConv ? 1 : 2
        let oh = FIR.outputSize(s.h, kernel: k, up: factor, down: decimate, pad: pad)
        let ow = FIR.outputSize(s.w, kernel: k, up: factor, down: decimate, pad: pad)
        let kernel = storage.count
        storage += FIR.kernel(taps, gain: up ? 4 : 1)
        let out = value(s.c, oh, ow)
        program.ops.append(.fir(.init(input: input, output: out, channels: s.c, inHeight: s.h, inWidth: s.w,
                                      outHeight: oh, outWidth: ow, kernel: kernel, size: k, up: factor, down: decimate,
                                      padBefore: pad.0, padAfter: pad.1)))
        program.flops += 2 * Double(s.c * oh * ow * k * k / (factor * factor))
        return out
    }

    /// Nearest-neighbour upsampling by 2.
    mutating func upsample(_ input: Int) -> Int {
        let s = shape(input), out = value(s.c, 2 * s.h, 2 * s.w)
        program.ops.append(.upsample(input: input, output: out, channels: s.c, height: s.h, width: s.w))
        return out
    }

    /// 2×2 average pooling (`avg_pool2d(2)`, score_sde's `naive_downsample_2d`): the FIR
    /// filter [1, 1] decimated by 2.
    mutating func averagePool(_ input: Int) -> Int { fir(input, taps: [1, 1], up: false) }

    /// `(a + b) · scale`; `context` names the operation when the shapes disagree.
    mutating func add(_ a: Int, _ b: Int, scale: Double = 1, context: @autoclosure () -> String) throws(ModelLoadError) -> Int {
        let sa = shape(a), sb = shape(b)
        guard sa == sb else {
            throw ModelLoadError(file: dict.path, subject: context(),
                                 "adds a \(sa.c)×\(sa.h)×\(sa.w) value to a \(sb.c)×\(sb.h)×\(sb.w) one: the reference implementation fails on this model")
        }
        let out = value(sa.c, sa.h, sa.w)
        program.ops.append(.add(a, b, output: out, scale: Float(scale)))
        return out
    }

    /// Channels of `a`, then of `b`.
    mutating func concat(_ a: Int, _ b: Int) throws(ModelLoadError) -> Int {
        let sa = shape(a), sb = shape(b)
        guard sa.h == sb.h && sa.w == sb.w else {
            throw ModelLoadError(file: dict.path, "joins a \(sa.h)×\(sa.w) value with a \(sb.h)×\(sb.w) one: the reference implementation fails on this model")
        }
        let out = value(sa.c + sb.c, sa.h, sa.w)
        program.ops.append(.concat(a, b, output: out))
        return out
    }

    /// `input · scale + shift`.
    mutating func affine(_ input: Int, scale: Float, shift: Float) -> Int {
        let s = shape(input), out = value(s.c, s.h, s.w)
        program.ops.append(.affine(input: input, output: out, scale: scale, shift: shift))
        return out
    }

    /// Ends the walk: `output` is the network's output; the stacked time projections go
    /// after the weights; a tensor not read is an error (`network` names the type).
    mutating func finish(output: Int, network: String) throws(ModelLoadError) {
        program.output = output
        program.shiftRows = shiftBias.count
        program.time.shiftWeight = storage.count
        storage += shiftWeights
        program.time.shiftBias = storage.count
        storage += shiftBias
        try dict.rejectUnexpected(used, network: network)
        program.place()
    }
}
