import Foundation
import ScoreJSON

/// The time-dependent U-Net of the official PyTorch tutorial on score-based generative
/// modeling (`ScoreNet`), with its `state_dict` names:
///
///     e  = silu(embed.1([sin 2πtW, cos 2πtW]))                       (embed.0.W: [E/2])
///     h1 = silu(gnorm1(conv1(x) + dense1(e)))                        3×3, stride 1
///     h2 = silu(gnorm2(conv2(h1) + dense2(e)))                       stride 2
///     h3 = silu(gnorm3(conv3(h2) + dense3(e)))                       stride 2
///     h4 = silu(gnorm4(conv4(h3) + dense4(e)))                       stride 2
///     h  = silu(tgnorm4(tconv4(h4) + dense5(e)))                     stride 2
///     h  = silu(tgnorm3(tconv3([h, h3]) + dense6(e)))                stride 2, output padding 1
///     h  = silu(tgnorm2(tconv2([h, h2]) + dense7(e)))                stride 2, output padding 1
///     s  = tconv1([h, h1]) / σ_t                                     stride 1, with bias
///
/// Convolutions have no bias except `tconv1`; gnorm1 has 4 groups, the others 32.
/// Each image is evaluated on its own (per-image GEMMs over im2col patches), so an
/// image's numbers never depend on the other rows of a call.
public final class ScoreNet: ImageNetwork {
    public let sde: SDE
    /// Input channels, height and width (`data.shape`).
    public let inputChannels: Int, height: Int, width: Int
    /// The four channel counts of the encoder (the tutorial: 32, 64, 128, 256).
    public let channels: [Int]
    /// E, the time embedding's width.
    public let embedDim: Int
    public let parameterCount: Int
    /// All weights, one array; `Offsets` says where each tensor starts.
    let storage: [Float]
    let at: Offsets
    /// The eight (transposed) convolutions in evaluation order.
    let levels: [Level]
    /// Scratch layouts for scores and for JVPs.
    let scoreLayout: Layout, jvpLayout: Layout

    /// GroupNorm groups of the seven norms in evaluation order (gnorm1–4, tgnorm4–2).
    static let groups = [4, 32, 32, 32, 32, 32, 32]

    struct Offsets {
        var fourier = 0, embedWeight = 0, embedBias = 0, denseWeight = 0, denseBias = 0
        /// Per level (0–6): the dense shift's row in the stacked dense output.
        var dense: [Int] = []
        var conv: [Int] = []       // conv1–conv4: [OC × IC·9]
        var tconv: [Int] = []      // tconv4, tconv3, tconv2, tconv1: [IC × OC·9]
        var tconv1Bias = 0
        var gamma: [Int] = [], beta: [Int] = []
    }

    init(sde: SDE, inputChannels: Int, height: Int, width: Int, channels: [Int], embedDim: Int,
         storage: [Float], offsets: Offsets, sides: [(h: Int, w: Int)]) {
        self.sde = sde
        self.inputChannels = inputChannels
        self.height = height
        self.width = width
        self.channels = channels
        self.embedDim = embedDim
        precondition(Self.groups.max()! <= 32, "the scratch keeps 32 group statistics per level")
        self.storage = storage
        self.at = offsets
        levels = Self.levels(inputChannels: inputChannels, input: (height, width), channels: channels, sides: sides)
        // embed.0.W is a buffer-like parameter in the tutorial (requires_grad=False) but
        // part of the state_dict; it is counted like the others.
        parameterCount = storage.count
        let shifts = channels.reduce(0, +) * 2 - channels[3]
        scoreLayout = Self.layout(levels, embedDim: embedDim, shifts: shifts, jvp: false)
        jvpLayout = Self.layout(levels, embedDim: embedDim, shifts: shifts, jvp: true)
    }

    public var typeName: String { "scorenet" }
    /// The convolutions' GEMMs (each weight is applied at every pixel): ~33 MFLOP for
    /// the tutorial's 28 × 28 network, against 2.2 M for its parameter count.
    public var flopsPerRow: Double {
        levels.reduce(0) { sum, l in
            sum + 2 * Double(l.outChannels * 9 * l.inChannels) * Double(l.transposed ? l.inSide.h * l.inSide.w : l.spatial)
        }
    }
    public var dimension: Int { inputChannels * height * width }

    public var hyperparameters: [(String, Hyperparameter)] {
        [("channels", .integers(channels)), ("embed_dim", .integer(embedDim))]
    }

    // MARK: Levels

    /// Channels, side and input of each of the seven normalised levels and the output.
    struct Level {
        let outChannels: Int, inChannels: Int
        let inSide: (h: Int, w: Int), outSide: (h: Int, w: Int)
        let stride: Int
        let transposed: Bool
        var spatial: Int { outSide.h * outSide.w }
        var size: Int { outChannels * spatial }
        /// Rows × columns of the im2col / col matrix.
        var cols: Int { transposed ? outChannels * 9 * inSide.h * inSide.w : inChannels * 9 * spatial }
    }

    static func levels(inputChannels: Int, input: (h: Int, w: Int), channels c: [Int],
                       sides s: [(h: Int, w: Int)]) -> [Level] {
        [
            Level(outChannels: c[0], inChannels: inputChannels, inSide: input, outSide: s[0], stride: 1, transposed: false),
            Level(outChannels: c[1], inChannels: c[0], inSide: s[0], outSide: s[1], stride: 2, transposed: false),
            Level(outChannels: c[2], inChannels: c[1], inSide: s[1], outSide: s[2], stride: 2, transposed: false),
            Level(outChannels: c[3], inChannels: c[2], inSide: s[2], outSide: s[3], stride: 2, transposed: false),
            Level(outChannels: c[2], inChannels: c[3], inSide: s[3], outSide: s[2], stride: 2, transposed: true),
            Level(outChannels: c[1], inChannels: 2 * c[2], inSide: s[2], outSide: s[1], stride: 2, transposed: true),
            Level(outChannels: c[0], inChannels: 2 * c[1], inSide: s[1], outSide: s[0], stride: 2, transposed: true),
            Level(outChannels: inputChannels, inChannels: 2 * c[0], inSide: s[0], outSide: input, stride: 1, transposed: true),
        ]
    }

    // MARK: Scratch

    struct Layout {
        var e0 = 0, e = 0, dense = 0, cols = 0
        /// Activation buffers: cat1, cat2, cat3 hold [decoder, skip]; h4 the bottom.
        var cat: [Int] = [], h4 = 0
        /// JVPs: per level x̂, 1/σ per group and silu′; the tangents' activations.
        var xhat: [Int] = [], invStd: [Int] = [], dsilu: [Int] = []
        var tcat: [Int] = [], th4 = 0
        var bytes = 0
    }

    private static func layout(_ levels: [Level], embedDim e: Int, shifts: Int, jvp: Bool) -> Layout {
        var s = ScratchLayout(), o = Layout()
        o.e0 = s.reserve(Float.self, e)
        o.e = s.reserve(Float.self, e)
        o.dense = s.reserve(Float.self, shifts)
        o.cols = s.reserve(Float.self, levels.map(\.cols).max()!)
        o.cat = (0..<3).map { s.reserve(Float.self, 2 * levels[$0].size) }
        o.h4 = s.reserve(Float.self, levels[3].size)
        if jvp {
            for level in levels.prefix(7) {
                o.xhat.append(s.reserve(Float.self, level.size))
                o.invStd.append(s.reserve(Float.self, 32))
                o.dsilu.append(s.reserve(Float.self, level.size))
            }
            o.tcat = (0..<3).map { s.reserve(Float.self, 2 * levels[$0].size) }
            o.th4 = s.reserve(Float.self, levels[3].size)
        }
        o.bytes = s.bytes
        return o
    }

    // One image at a time: the scratch does not grow with rows or tangents.
    public func workspaceBytes(rows: Int) -> Int { scoreLayout.bytes }
    public func jvpWorkspaceBytes(rows: Int, tangents: Int) -> Int { jvpLayout.bytes }

    // MARK: Evaluation

    func image(_ x: UnsafePointer<Float>, time t: Double, weights w: UnsafePointer<Float>,
               scratch: UnsafeMutableRawPointer, keep: Bool, into out: UnsafeMutablePointer<Float>) {
        let o = keep ? jvpLayout : scoreLayout
        let e = embedDim, half = e / 2
        // Time embedding and all seven dense shifts (one matrix-vector product).
        let e0 = scratch.floats(at: o.e0), emb = scratch.floats(at: o.e), dense = scratch.floats(at: o.dense)
        VectorMath.fourierFeatures(scale: 2 * Double.pi * t, frequencies: w + at.fourier, count: half, into: e0)
        emb.update(from: w + at.embedBias, count: e)
        BLAS.sgemm(transA: false, transB: true, m: 1, n: e, k: e, alpha: 1, a: e0, lda: e,
                   b: w + at.embedWeight, ldb: e, beta: 1, c: emb, ldc: e)
        VectorMath.siluInPlace(emb, count: e)
        let shifts = at.dense.last! + channels[0]
        dense.update(from: w + at.denseBias, count: shifts)
        BLAS.sgemm(transA: false, transB: true, m: 1, n: shifts, k: e, alpha: 1, a: emb, lda: e,
                   b: w + at.denseWeight, ldb: e, beta: 1, c: dense, ldc: shifts)

        let cols = scratch.floats(at: o.cols)
        let buffers = (scratch.floats(at: o.cat[0]), scratch.floats(at: o.cat[1]), scratch.floats(at: o.cat[2]), scratch.floats(at: o.h4))
        for k in 0..<8 {
            let level = levels[k], (input, output) = endpoints(k, x, buffers, out)
            apply(level, k, input, weights: w, cols: cols, into: output)
            if k == 7 { break }
            GroupNorm.forward(output, channels: level.outChannels, spatial: level.spatial, groups: Self.groups[k],
                              shift: dense + at.dense[k], gamma: w + at.gamma[k], beta: w + at.beta[k],
                              normalized: keep ? scratch.floats(at: o.xhat[k]) : nil, invStd: keep ? scratch.floats(at: o.invStd[k]) : nil)
            if keep {
                VectorMath.silu(output, into: output, derivative: scratch.floats(at: o.dsilu[k]), count: level.size)
            } else {
                VectorMath.siluInPlace(output, count: level.size)
            }
        }
        let inv = Float(1 / sde.marginalStd(t)), bias = w + at.tconv1Bias, plane = height * width
        for c in 0..<inputChannels {
            let b = bias[c], row = out + c * plane
            for i in 0..<plane { row[i] = (row[i] + b) * inv }
        }
    }

    func imageTangent(_ v: UnsafePointer<Float>, time t: Double, weights w: UnsafePointer<Float>,
                      scratch: UnsafeMutableRawPointer, into jv: UnsafeMutablePointer<Float>) {
        let o = jvpLayout
        let cols = scratch.floats(at: o.cols)
        let buffers = (scratch.floats(at: o.tcat[0]), scratch.floats(at: o.tcat[1]), scratch.floats(at: o.tcat[2]), scratch.floats(at: o.th4))
        for k in 0..<8 {
            let level = levels[k], (input, output) = endpoints(k, v, buffers, jv)
            apply(level, k, input, weights: w, cols: cols, into: output)
            if k == 7 { break }
            GroupNorm.tangent(output, channels: level.outChannels, spatial: level.spatial, groups: Self.groups[k],
                              gamma: w + at.gamma[k], normalized: scratch.floats(at: o.xhat[k]), invStd: scratch.floats(at: o.invStd[k]))
            VectorMath.multiply(output, scratch.floats(at: o.dsilu[k]), into: output, count: level.size)
        }
        let inv = Float(1 / sde.marginalStd(t))
        for i in 0..<dimension { jv[i] *= inv }
    }

    typealias Buffers = (cat1: UnsafeMutablePointer<Float>, cat2: UnsafeMutablePointer<Float>,
                         cat3: UnsafeMutablePointer<Float>, h4: UnsafeMutablePointer<Float>)

    /// Where level `k` reads and writes. Each `cat` buffer is [decoder output, skip], so
    /// an encoder level writes its skip straight into the second half and the decoder's
    /// concatenation costs no copy.
    @inline(__always)
    private func endpoints(_ k: Int, _ x: UnsafePointer<Float>, _ b: Buffers, _ out: UnsafeMutablePointer<Float>)
        -> (UnsafePointer<Float>, UnsafeMutablePointer<Float>) {
        let skip1 = b.cat1 + levels[0].size, skip2 = b.cat2 + levels[1].size, skip3 = b.cat3 + levels[2].size
        switch k {
        case 0: return (x, skip1)
        case 1: return (UnsafePointer(skip1), skip2)
        case 2: return (UnsafePointer(skip2), skip3)
        case 3: return (UnsafePointer(skip3), b.h4)
        case 4: return (UnsafePointer(b.h4), b.cat3)
        case 5: return (UnsafePointer(b.cat3), b.cat2)
        case 6: return (UnsafePointer(b.cat2), b.cat1)
        default: return (UnsafePointer(b.cat1), out)
        }
    }

    /// A level's (transposed) convolution, without bias.
    private func apply(_ level: Level, _ k: Int, _ input: UnsafePointer<Float>, weights w: UnsafePointer<Float>,
                       cols: UnsafeMutablePointer<Float>, into output: UnsafeMutablePointer<Float>) {
        if level.transposed {
            // cols[OC·9 × P_in] = Wᵀ · input, W stored [IC × OC·9]; then scatter.
            let pin = level.inSide.h * level.inSide.w, m = level.outChannels * 9
            BLAS.sgemm(transA: true, transB: false, m: m, n: pin, k: level.inChannels, alpha: 1,
                       a: w + at.tconv[k - 4], lda: m, b: input, ldb: pin, beta: 0, c: cols, ldc: pin)
            Convolution.col2im(cols, channels: level.outChannels, inputHeight: level.inSide.h,
                               inputWidth: level.inSide.w, stride: level.stride, outputHeight: level.outSide.h,
                               outputWidth: level.outSide.w, into: output)
        } else {
            Convolution.im2col(input, channels: level.inChannels, height: level.inSide.h, width: level.inSide.w,
                               stride: level.stride, into: cols)
            let kk = level.inChannels * 9
            BLAS.sgemm(transA: false, transB: false, m: level.outChannels, n: level.spatial, k: kk, alpha: 1,
                       a: w + at.conv[k], lda: kk, b: cols, ldb: level.spatial, beta: 0, c: output, ldc: level.spatial)
        }
    }
}
