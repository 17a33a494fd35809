import Foundation
import ScoreKernels
import ScoreJSON

/// A 2-D U-Net compiled at load into a flat list of operations over channel-major
/// `[C × H × W]` values (see `UNet2D+Program.swift`): diffusers' `UNet2DModel` (network
/// `unet2d`: ResnetBlock2D, attention, Downsample2D, Upsample2D, the mid block, and the
/// NCSN++ skip blocks with FIR resampling) or score_sde's NCSN++ / DDPM++ (network
/// `ncsnpp`, `NCSNpp+Loading.swift`). Up to `batch` images are evaluated op by op (each
/// op's weights are read from memory once for all of them), with every GEMM call shaped
/// as for one image, or holding whole images only where OpenBLAS sums each column alike
/// (`Program.Conv.imagesPerCall`), so an image's numbers never depend on the other rows
/// of a call. Forward-mode JVPs run the same list on tangents.
///
/// The timestep input and the output's map to the score follow the reference code:
/// diffusers on a DDPM schedule: input N·t − 1 (DPM-Solver's discrete-time model
/// wrapper), output a `prediction`; on `ScoreSdeVeScheduler`'s VE SDE: input σ(t), output
/// the score (with Fourier features divided by σ, as diffusers' network does itself).
/// score_sde (`get_score_fn`, continuous): VP and subVP input 999·t, score −output/std(t);
/// VE input σ(t), score the output; `scale_by_sigma` divides by the network's σ first.
public final class UNet2D: ImageNetwork {
    /// Which reference the network mirrors, with its config.
    public enum Kind: Sendable {
        /// diffusers' UNet2DModel, with what its output predicts on a DDPM schedule (nil:
        /// the score, on the VE SDE).
        case diffusers(UNet2DConfig, prediction: Prediction?)
        /// score_sde's NCSN++ / DDPM++ (`models/ncsnpp.py`).
        case scoreSDE(NCSNppConfig)
    }

    public let sde: SDE
    public let kind: Kind
    public let parameterCount: Int
    let storage: [Float]
    let program: Program
    /// Score layouts for 1 … `batch` images; the JVP's for one image.
    let scoreLayouts: [Layout], jvpLayout: Layout
    /// Images evaluated together, op by op. Four keep the values of the widest network
    /// here (ddpm-cifar10-32) at about 40 MB and its per-op weights (≤ 9 MB) in cache
    /// between the images.
    static let batch = 4

    init(sde: SDE, kind: Kind, storage: [Float], program: Program, parameterCount: Int) {
        switch kind {
        case .diffusers(_, let prediction):
            precondition((sde.kind == .vpDiscrete) == (prediction != nil) && (sde.kind == .vpDiscrete || sde.kind == .ve),
                         "unet2d runs on a vp_discrete SDE with a prediction, or on a ve SDE without")
        case .scoreSDE:
            precondition([.vp, .subvp, .ve].contains(sde.kind), "ncsnpp runs on the vp, subvp or ve SDE")
        }
        self.sde = sde
        self.kind = kind
        self.storage = storage
        self.program = program
        self.parameterCount = parameterCount
        scoreLayouts = (1...Self.batch).map { Layout(program, jvp: false, images: $0) }
        jvpLayout = Layout(program, jvp: true, images: 1)
    }

    public var typeName: String {
        switch kind {
        case .diffusers: "unet2d"
        case .scoreSDE: "ncsnpp"
        }
    }
    public var dimension: Int { program.size(0) }
    public var flopsPerRow: Double { program.flops }
    public var hyperparameters: [(String, Hyperparameter)] {
        switch kind {
        case .diffusers(let config, _):
            [("block_out_channels", .integers(config.blockOutChannels)), ("layers_per_block", .integer(config.layersPerBlock))]
        case .scoreSDE(let config):
            [("nf", .integer(config.nf)), ("ch_mult", .integers(config.chMult)), ("num_res_blocks", .integer(config.numResBlocks))]
        }
    }

    public var batchRows: Int { Self.batch }
    public func workspaceBytes(rows: Int) -> Int { scoreLayouts[Swift.min(Swift.max(rows, 1), Self.batch) - 1].bytes }
    public func jvpWorkspaceBytes(rows: Int, tangents: Int) -> Int { jvpLayout.bytes }

    // MARK: Scratch

    /// Where each value and each kept quantity lives in the scratch (offsets in bytes).
    struct Layout {
        /// Images the layout holds (values and shifts are per image).
        var images = 1
        /// Per value, its first image's (the input, value 0, is the caller's); image b's
        /// follows at b · size.
        var values: [Int] = []
        var cols = 0
        var timeInput = 0, hidden = 0, embedding = 0, shifts = 0
        /// Attention scratch: the normalised input, Q, K, V, the output heads, one P × P block
        /// (its tangents reuse them in JVP mode).
        var attnNorm = 0, attnQ = 0, attnK = 0, attnV = 0, attnO = 0, attnS = 0
        /// JVP only: per saving op, its kept quantities (x̂, 1/σ, silu′; attention Q, K, V, A).
        var saved: [Saved] = []
        var bytes = 0

        struct Saved { var xhat = 0, invStd = 0, dsilu = 0, q = 0, k = 0, v = 0, probabilities = 0 }

        init(_ program: Program, jvp: Bool, images: Int) {
            self.images = images
            var s = ScratchLayout()
            // Liveness offsets scaled by the image count stay disjoint, each value holding
            // its images one after another.
            let arena = s.reserve(Float.self, images * program.arenaFloats)
            values = program.valueOffsets.map { arena + images * $0 * MemoryLayout<Float>.stride }
            cols = s.reserve(Float.self, program.maxBandFloats)
            timeInput = s.reserve(Float.self, program.timeInputDim)
            hidden = s.reserve(Float.self, program.timeEmbedDim)
            embedding = s.reserve(Float.self, program.timeEmbedDim)
            shifts = s.reserve(Float.self, images * program.shiftRows)
            let a = program.maxAttention
            attnNorm = s.reserve(Float.self, a.channels * a.positions)
            attnQ = s.reserve(Float.self, a.inner * a.positions)
            attnK = s.reserve(Float.self, a.inner * a.positions)
            attnV = s.reserve(Float.self, a.inner * a.positions)
            attnO = s.reserve(Float.self, a.inner * a.positions)
            attnS = s.reserve(Float.self, a.positions * a.positions)
            if jvp {
                for op in program.ops {
                    var kept = Saved()
                    switch op {
                    case .norm(let n):
                        kept.xhat = s.reserve(Float.self, n.channels * n.spatial)
                        kept.invStd = s.reserve(Float.self, n.groups)
                        if n.silu { kept.dsilu = s.reserve(Float.self, n.channels * n.spatial) }
                    case .attention(let t):
                        kept.xhat = s.reserve(Float.self, t.channels * t.positions)
                        kept.invStd = s.reserve(Float.self, t.groups)
                        kept.q = s.reserve(Float.self, t.inner * t.positions)
                        kept.k = s.reserve(Float.self, t.inner * t.positions)
                        kept.v = s.reserve(Float.self, t.inner * t.positions)
                        kept.probabilities = s.reserve(Float.self, t.heads * t.positions * t.positions)
                    default: break
                    }
                    saved.append(kept)
                }
            }
            bytes = s.bytes
        }
    }

    // MARK: Evaluation

    /// The score's affine map from the network output o: s = a·o + b·x.
    private func outputMap(_ t: Double) -> (a: Float, b: Float) {
        switch kind {
        case .diffusers(let config, let prediction):
            // Fourier features: o is already divided by the timestep τ.
            let alpha = sde.meanCoefficient(t), sigma = sde.marginalStd(t)
            let divide = config.fourier ? 1 / timestep(t) : 1
            guard let prediction else { return (Float(divide), 0) }
            switch prediction {
            case .epsilon: return (Float(-divide / sigma), 0)
            case .sample: return (Float(divide * alpha / (sigma * sigma)), Float(-1 / (sigma * sigma)))
            case .vPrediction: return (Float(-divide * alpha / sigma), -1)
            }
        case .scoreSDE(let config):
            var a = 1.0
            if config.scaleBySigma {
                // ncsnpp.py's used_sigmas: the input itself (Fourier), else its sigmas table at ⌊τ⌋.
                let tau = timestep(t)
                // ⌊τ⌋ < num_scales: checked at load.
                a /= config.embedding == .fourier ? tau : config.sigma(at: Int(tau))
            }
            if sde.kind != .ve { a /= -sde.marginalStd(t) }
            return (Float(a), 0)
        }
    }

    /// The network's timestep input at time t: N·t − 1 on a DDPM schedule, 999·t for
    /// score_sde's VP and subVP, σ(t) on the VE SDE.
    func timestep(_ t: Double) -> Double {
        if let schedule = sde.schedule { return Double(schedule.steps) * t - 1 }
        if sde.kind == .vp || sde.kind == .subvp { return 999 * t }
        return sde.marginalStd(t)
    }

    func image(_ x: UnsafePointer<Float>, time t: Double, weights w: UnsafePointer<Float>,
               scratch: UnsafeMutableRawPointer, keep: Bool, into out: UnsafeMutablePointer<Float>) {
        withUnsafePointer(to: t) { images(x, times: $0, count: 1, weights: w, scratch: scratch, keep: keep, into: out) }
    }

    /// The scores of `count` (≤ `batch`) images, op by op; with `keep` (one image), what
    /// `imageTangent` needs is left in the scratch.
    func images(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, count: Int, weights w: UnsafePointer<Float>,
                scratch: UnsafeMutableRawPointer, keep: Bool, into out: UnsafeMutablePointer<Float>) {
        let o = keep ? jvpLayout : scoreLayouts[count - 1]
        precondition(count == o.images)
        let shifts = scratch.floats(at: o.shifts), cols = scratch.floats(at: o.cols), rows = program.shiftRows
        for b in 0..<count {
            timeConditioning(timestep(times[b]), weights: w, layout: o, scratch: scratch, into: shifts + b * rows)
        }
        /// Image b of value `id`.
        func value(_ id: Int, _ b: Int) -> UnsafeMutablePointer<Float> {
            id == 0 ? UnsafeMutablePointer(mutating: x + b * dimension) : scratch.floats(at: o.values[id]) + b * program.size(id)
        }
        for (index, op) in program.ops.enumerated() {
            let kept = keep ? o.saved[index] : nil
            switch op {
            case .affine(let input, let output, let scale, let shift):
                // The images of a value are contiguous: one loop over all of them.
                let src = value(input, 0), dst = value(output, 0)
                for i in 0..<(count * program.size(output)) { dst[i] = src[i] * scale + shift }
            case .conv(let c):
                convolve(c, value(c.input, 0), images: count, weights: w, bias: true, cols: cols, into: value(c.output, 0))
            case .norm(let n):
                let size = n.channels * n.spatial
                for b in 0..<count {
                    let src = value(n.input, b), dst = value(n.output, b)
                    if src != dst { dst.update(from: src, count: size) }
                    GroupNorm.forward(dst, channels: n.channels, spatial: n.spatial, groups: n.groups,
                                      shift: n.shift.map { UnsafePointer(shifts + b * rows + $0) }, gamma: w + n.gamma,
                                      beta: w + n.beta, eps: n.eps, normalized: kept.map { scratch.floats(at: $0.xhat) },
                                      invStd: kept.map { scratch.floats(at: $0.invStd) })
                    if n.silu {
                        if let kept {
                            VectorMath.silu(dst, into: dst, derivative: scratch.floats(at: kept.dsilu), count: size)
                        } else {
                            VectorMath.siluInPlace(dst, count: size)
                        }
                    }
                }
            case .add(let a, let b, let output, let scale):
                let pa = value(a, 0), pb = value(b, 0), dst = value(output, 0), total = count * program.size(output)
                if scale == 1 {
                    for i in 0..<total { dst[i] = pa[i] + pb[i] }
                } else {
                    for i in 0..<total { dst[i] = (pa[i] + pb[i]) * scale }
                }
            case .upsample, .concat, .fir:
                for b in 0..<count { move(op, weights: w) { value($0, b) } }
            case .attention(let at):
                for b in 0..<count {
                    attend(at, value(at.input, b), weights: w, layout: o, scratch: scratch, kept: kept, into: value(at.output, b))
                }
            }
        }
        for b in 0..<count {
            let (a, s) = outputMap(times[b]), result = value(program.output, b), input = x + b * dimension, score = out + b * dimension
            for i in 0..<dimension { score[i] = a * result[i] + s * input[i] }
        }
    }

    func imageTangent(_ v: UnsafePointer<Float>, time t: Double, weights w: UnsafePointer<Float>,
                      scratch: UnsafeMutableRawPointer, into jv: UnsafeMutablePointer<Float>) {
        let o = jvpLayout
        let cols = scratch.floats(at: o.cols)
        func value(_ id: Int) -> UnsafeMutablePointer<Float> {
            id == 0 ? UnsafeMutablePointer(mutating: v) : scratch.floats(at: o.values[id])
        }
        for (index, op) in program.ops.enumerated() {
            let kept = o.saved[index]
            switch op {
            case .affine(let input, let output, let scale, _):
                let src = value(input), dst = value(output)
                for i in 0..<program.size(output) { dst[i] = src[i] * scale }
            case .conv(let c):
                convolve(c, value(c.input), images: 1, weights: w, bias: false, cols: cols, into: value(c.output))
            case .norm(let n):
                let src = value(n.input), dst = value(n.output), count = n.channels * n.spatial
                if src != dst { dst.update(from: src, count: count) }
                GroupNorm.tangent(dst, channels: n.channels, spatial: n.spatial, groups: n.groups, gamma: w + n.gamma,
                                  normalized: scratch.floats(at: kept.xhat), invStd: scratch.floats(at: kept.invStd))
                if n.silu { VectorMath.multiply(dst, scratch.floats(at: kept.dsilu), into: dst, count: count) }
            case .add(let a, let b, let output, let scale):
                let pa = value(a), pb = value(b), dst = value(output)
                for i in 0..<program.size(output) { dst[i] = (pa[i] + pb[i]) * scale }
            case .upsample, .concat, .fir:
                move(op, weights: w, value)
            case .attention(let at):
                attendTangent(at, value(at.input), weights: w, layout: o, scratch: scratch, kept: kept,
                              into: value(at.output))
            }
        }
        let (a, b) = outputMap(t), result = value(program.output)
        for i in 0..<dimension { jv[i] = a * result[i] + b * v[i] }
    }

    /// The linear operations without a bias (the same on points and on tangents).
    @inline(__always)
    private func move(_ op: Program.Op, weights w: UnsafePointer<Float>, _ value: (Int) -> UnsafeMutablePointer<Float>) {
        switch op {
        case .fir(let f):
            let src = value(f.input), dst = value(f.output)
            let inPlane = f.inHeight * f.inWidth, outPlane = f.outHeight * f.outWidth
            for c in 0..<f.channels {
                FIR.upfirdn(src + c * inPlane, height: f.inHeight, width: f.inWidth, kernel: w + f.kernel, size: f.size,
                            up: f.up, down: f.down, pad: (f.padBefore, f.padAfter), into: dst + c * outPlane)
            }
        case .upsample(let input, let output, let channels, let h, let w):
            Convolution.upsampleNearest2(value(input), channels: channels, height: h, width: w, into: value(output))
        case .concat(let a, let b, let output):
            let dst = value(output), first = program.size(a)
            dst.update(from: value(a), count: first)
            (dst + first).update(from: value(b), count: program.size(b))
        default:
            preconditionFailure("not a move")
        }
    }

    /// The time embedding (sinusoids of the timestep, the two-layer MLP) and every
    /// resnet's projection of silu(embedding), plus its conv1 bias, into `shifts`.
    private func timeConditioning(_ timestep: Double, weights w: UnsafePointer<Float>, layout o: Layout,
                                  scratch: UnsafeMutableRawPointer, into shifts: UnsafeMutablePointer<Float>) {
        guard program.time.conditional else { return }
        let p = program.timeInputDim, e = program.timeEmbedDim, half = p / 2
        let input = scratch.floats(at: o.timeInput), hidden = scratch.floats(at: o.hidden), emb = scratch.floats(at: o.embedding)
        switch program.time.features {
        case .fourier:
            // GaussianFourierProjection(log: true) in Float64: [sin, cos] of 2π·W_j·ln τ.
            VectorMath.fourierFeatures(scale: Foundation.log(timestep) * 2 * Double.pi,
                                       frequencies: w + program.time.fourier, count: half, into: input)
        case .positional(let flip, let shift):
            // get_timestep_embedding in Float64: [sin, cos] (or [cos, sin]) of τ·e^{−ln(10⁴)·j/(half − shift)}.
            let denominator = Double(half) - shift
            for j in 0..<half {
                let arg = timestep * Foundation.exp(-Foundation.log(10_000.0) * Double(j) / denominator)
                let s = Float(Foundation.sin(arg)), c = Float(Foundation.cos(arg))
                input[j] = flip ? c : s
                input[half + j] = flip ? s : c
            }
            if p % 2 == 1 { input[p - 1] = 0 }
        }
        let at = program.time
        hidden.update(from: w + at.bias1, count: e)
        BLAS.sgemm(transA: false, transB: true, m: 1, n: e, k: p, alpha: 1, a: input, lda: p,
                   b: w + at.weight1, ldb: p, beta: 1, c: hidden, ldc: e)
        VectorMath.siluInPlace(hidden, count: e)
        emb.update(from: w + at.bias2, count: e)
        BLAS.sgemm(transA: false, transB: true, m: 1, n: e, k: e, alpha: 1, a: hidden, lda: e,
                   b: w + at.weight2, ldb: e, beta: 1, c: emb, ldc: e)
        VectorMath.siluInPlace(emb, count: e)
        let rows = program.shiftRows
        shifts.update(from: w + at.shiftBias, count: rows)
        BLAS.sgemm(transA: false, transB: true, m: 1, n: rows, k: e, alpha: 1, a: emb, lda: e,
                   b: w + at.shiftWeight, ldb: e, beta: 1, c: shifts, ldc: rows)
    }

    /// A convolution of `images` images (one after another in `input` and `output`): in
    /// calls of `imagesPerCall` whole images where the op allows, else image by image.
    private func convolve(_ c: Program.Conv, _ input: UnsafePointer<Float>, images: Int, weights w: UnsafePointer<Float>,
                          bias: Bool, cols: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let inSize = c.inChannels * c.inHeight * c.inWidth, outSize = c.outChannels * c.outHeight * c.outWidth
        let group = c.imagesPerCall
        var first = 0
        while first < images {
            let count = Swift.min(group, images - first)
            if group > 1 {
                winograd(c, input + first * inSize, images: count, tileRows: 0..<c.tileRows, weights: w,
                         bias: bias, cols: cols, into: output + first * outSize)
            } else {
                convolve(c, input + first * inSize, weights: w, bias: bias, cols: cols, into: output + first * outSize)
            }
            first += count
        }
    }

    /// Winograd for tile rows `rows` of `images` images (one after another in `input` and
    /// `output`), their tiles side by side in each of the 16 (F(2×2)) or 36 (F(4×4)) GEMMs:
    /// V [products × C × n] and M [products × O × n], planes `Conv.planeStride` apart,
    /// n = images · tiles of `rows`, image j's from column j · tiles. One image's band, or
    /// whole images where `imagesPerCall` allows (always so for such an op, whatever the
    /// count, so an image's numbers are the same in any batch).
    private func winograd(_ c: Program.Conv, _ input: UnsafePointer<Float>, images: Int, tileRows rows: Range<Int>,
                          weights w: UnsafePointer<Float>, bias: Bool, cols: UnsafeMutablePointer<Float>,
                          into output: UnsafeMutablePointer<Float>) {
        let inSize = c.inChannels * c.inHeight * c.inWidth, outSize = c.outChannels * c.outHeight * c.outWidth
        let tiles = rows.count * c.tilesAcross, n = images * tiles, products = c.products
        let vPlane = Program.Conv.planeStride(c.inChannels * n), mPlane = Program.Conv.planeStride(c.outChannels * n)
        let v = cols, m = cols + products * vPlane, lines = m + products * mPlane
        for j in 0..<images {
            if c.winogradTile == 4 {
                WinogradF4.transformInput(input + j * inSize, channels: c.inChannels, height: c.inHeight, width: c.inWidth,
                                          tileRows: rows, lines: lines, into: v + j * tiles, rowStride: n,
                                          planeStride: vPlane)
            } else {
                Winograd.transformInput(input + j * inSize, channels: c.inChannels, height: c.inHeight, width: c.inWidth,
                                        tileRows: rows, lines: lines, into: v + j * tiles, rowStride: n,
                                        planeStride: vPlane)
            }
        }
        for xi in 0..<products {
            GEMM.nn(m: c.outChannels, n: n, k: c.inChannels, a: w + c.weight + xi * c.outChannels * c.inChannels,
                    lda: c.inChannels, b: v + xi * vPlane, ldb: n, c: m + xi * mPlane, ldc: n, accumulate: false)
        }
        let biases = bias ? c.bias.map { UnsafePointer(w + $0) } : nil
        for j in 0..<images {
            if c.winogradTile == 4 {
                WinogradF4.transformOutput(m + j * tiles, channels: c.outChannels, height: c.outHeight, width: c.outWidth,
                                           tileRows: rows, bias: biases, lines: lines, into: output + j * outSize,
                                           rowStride: n, planeStride: mPlane)
            } else {
                Winograd.transformOutput(m + j * tiles, channels: c.outChannels, height: c.outHeight, width: c.outWidth,
                                         tileRows: rows, bias: biases, lines: lines, into: output + j * outSize,
                                         rowStride: n, planeStride: mPlane)
            }
        }
    }

    /// One image's 3×3 (im2col + GEMM, in bands of rows) or 1×1 (GEMM) convolution,
    /// with its bias when `bias`.
    private func convolve(_ c: Program.Conv, _ input: UnsafePointer<Float>, weights w: UnsafePointer<Float>,
                          bias: Bool, cols: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        let p = c.outHeight * c.outWidth
        let withBias = bias && c.bias != nil
        if withBias && !c.winograd {
            let b = w + c.bias!
            for oc in 0..<c.outChannels { (output + oc * p).update(repeating: b[oc], count: p) }
        }
        if c.kernel == 1 {
            BLAS.sgemm(transA: false, transB: false, m: c.outChannels, n: p, k: c.inChannels, alpha: 1,
                       a: w + c.weight, lda: c.inChannels, b: input, ldb: p, beta: withBias ? 1 : 0, c: output, ldc: p)
            return
        }
        if c.winograd {
            // A band of tile rows at a time.
            let tileRows = c.tileRows
            var first = 0
            while first < tileRows {
                let rows = first..<Swift.min(tileRows, first + c.bandRows)
                winograd(c, input, images: 1, tileRows: rows, weights: w, bias: bias, cols: cols, into: output)
                first = rows.upperBound
            }
            return
        }
        // im2col a band of output rows at a time: the band's columns stay in cache for the
        // GEMM that reads them (a whole 32 × 32 image of 384 channels would be 14 MB).
        let k = c.inChannels * 9, band = c.bandRows
        var first = 0
        while first < c.outHeight {
            let rows = first..<Swift.min(c.outHeight, first + band), n = rows.count * c.outWidth
            Convolution.im2col(input, channels: c.inChannels, height: c.inHeight, width: c.inWidth, stride: c.stride,
                               padding: c.padding, rows: rows, into: cols)
            BLAS.sgemm(transA: false, transB: false, m: c.outChannels, n: n, k: k, alpha: 1,
                       a: w + c.weight, lda: k, b: cols, ldb: n, beta: withBias ? 1 : 0,
                       c: output + first * c.outWidth, ldc: p)
            first = rows.upperBound
        }
    }

    /// diffusers' attention block: out = (to_out(attention(q, k, v of group_norm(x))) + x) / rescale.
    private func attend(_ at: Program.AttentionOp, _ x: UnsafePointer<Float>, weights w: UnsafePointer<Float>,
                        layout o: Layout, scratch: UnsafeMutableRawPointer, kept: Layout.Saved?,
                        into out: UnsafeMutablePointer<Float>) {
        let c = at.channels, p = at.positions, inner = at.inner
        let xn = scratch.floats(at: o.attnNorm)
        xn.update(from: x, count: c * p)
        GroupNorm.forward(xn, channels: c, spatial: p, groups: at.groups, shift: nil, gamma: w + at.gamma,
                          beta: w + at.beta, eps: at.eps, normalized: kept.map { scratch.floats(at: $0.xhat) },
                          invStd: kept.map { scratch.floats(at: $0.invStd) })
        let q = kept.map { scratch.floats(at: $0.q) } ?? scratch.floats(at: o.attnQ)
        let k = kept.map { scratch.floats(at: $0.k) } ?? scratch.floats(at: o.attnK)
        let v = kept.map { scratch.floats(at: $0.v) } ?? scratch.floats(at: o.attnV)
        func project(_ weight: Int, _ bias: Int, into dst: UnsafeMutablePointer<Float>) {
            for r in 0..<inner { (dst + r * p).update(repeating: w[bias + r], count: p) }
            BLAS.sgemm(transA: false, transB: false, m: inner, n: p, k: c, alpha: 1, a: w + weight, lda: c,
                       b: xn, ldb: p, beta: 1, c: dst, ldc: p)
        }
        project(at.q, at.qBias, into: q)
        project(at.k, at.kBias, into: k)
        project(at.v, at.vBias, into: v)
        let heads = scratch.floats(at: o.attnO)
        Attention.forward(q: q, k: k, v: v, heads: at.heads, headDim: at.headDim, positions: p,
                          scale: at.scale, probabilities: kept.map { scratch.floats(at: $0.probabilities) } ?? scratch.floats(at: o.attnS),
                          keepAll: kept != nil, into: heads)
        for r in 0..<c { (out + r * p).update(repeating: w[at.outBias + r], count: p) }
        BLAS.sgemm(transA: false, transB: false, m: c, n: p, k: inner, alpha: 1, a: w + at.out, lda: inner,
                   b: heads, ldb: p, beta: 1, c: out, ldc: p)
        let inv = at.inverseRescale
        for i in 0..<c * p { out[i] = (out[i] + x[i]) * inv }
    }

    /// The tangent of `attend` at the kept point.
    private func attendTangent(_ at: Program.AttentionOp, _ dx: UnsafePointer<Float>, weights w: UnsafePointer<Float>,
                               layout o: Layout, scratch: UnsafeMutableRawPointer, kept: Layout.Saved,
                               into out: UnsafeMutablePointer<Float>) {
        let c = at.channels, p = at.positions, inner = at.inner
        let dxn = scratch.floats(at: o.attnNorm)
        dxn.update(from: dx, count: c * p)
        GroupNorm.tangent(dxn, channels: c, spatial: p, groups: at.groups, gamma: w + at.gamma,
                          normalized: scratch.floats(at: kept.xhat), invStd: scratch.floats(at: kept.invStd))
        let dq = scratch.floats(at: o.attnQ), dk = scratch.floats(at: o.attnK), dv = scratch.floats(at: o.attnV)
        func project(_ weight: Int, into dst: UnsafeMutablePointer<Float>) {
            BLAS.sgemm(transA: false, transB: false, m: inner, n: p, k: c, alpha: 1, a: w + weight, lda: c,
                       b: dxn, ldb: p, beta: 0, c: dst, ldc: p)
        }
        project(at.q, into: dq)
        project(at.k, into: dk)
        project(at.v, into: dv)
        let dheads = scratch.floats(at: o.attnO)
        Attention.tangent(q: scratch.floats(at: kept.q), k: scratch.floats(at: kept.k), v: scratch.floats(at: kept.v),
                          probabilities: scratch.floats(at: kept.probabilities), dq: dq, dk: dk, dv: dv, heads: at.heads,
                          headDim: at.headDim, positions: p, scale: at.scale, ds: scratch.floats(at: o.attnS), into: dheads)
        BLAS.sgemm(transA: false, transB: false, m: c, n: p, k: inner, alpha: 1, a: w + at.out, lda: inner,
                   b: dheads, ldb: p, beta: 0, c: out, ldc: p)
        let inv = at.inverseRescale
        for i in 0..<c * p { out[i] = (out[i] + dx[i]) * inv }
    }
}
