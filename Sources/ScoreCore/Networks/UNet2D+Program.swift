/// The operations a `UNet2D` evaluates, compiled at load from the config and the
/// `state_dict`: a straight-line list over numbered values (value 0 is the input image),
/// each value a channel-major `[C × H × W]` block placed in the scratch by liveness, so
/// values that are no longer needed give their memory to later ones.
struct Program: Sendable {
    enum Op: Sendable {
        /// `output = input · scale + shift` (`center_input_sample`: 2x − 1).
        case affine(input: Int, output: Int, scale: Float, shift: Float)
        case conv(Conv)
        /// GroupNorm (optionally after a per-channel shift, optionally followed by silu).
        case norm(Norm)
        /// `output = (a + b) · scale` (a residual, divided by `output_scale_factor`).
        case add(Int, Int, output: Int, scale: Float)
        case upsample(input: Int, output: Int, channels: Int, height: Int, width: Int)
        /// Channels of `a`, then of `b` (the up path's skip concatenation).
        case concat(Int, Int, output: Int)
        case attention(AttentionOp)
        /// FIR resampling (upfirdn2d) of every channel.
        case fir(FIROp)
    }

    /// `FIR.upfirdn` of each of `channels` planes with the `[size × size]` kernel at `kernel`.
    struct FIROp: Sendable {
        let input: Int, output: Int, channels: Int
        let inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
        let kernel: Int, size: Int, up: Int, down: Int, padBefore: Int, padAfter: Int
    }

    /// A Conv2d (3×3 with padding, or 1×1); weights `[out × in·k²]` at `weight`.
    struct Conv: Sendable {
        let input: Int, output: Int, weight: Int, bias: Int?
        let inChannels: Int, outChannels: Int, kernel: Int, stride: Int
        let padding: Convolution.Padding
        let inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
        /// Winograd's output tile: 2 for F(2×2, 3×3), 4 for F(4×4, 3×3), 0 for none. With
        /// Winograd, `weight` holds U `[products × out × in]` instead of the kernel.
        let winogradTile: Int
        var winograd: Bool { winogradTile > 0 }
        /// Winograd's GEMMs: (tile + 2)².
        var products: Int { (winogradTile + 2) * (winogradTile + 2) }
        /// Winograd tiles across a row, and tile rows.
        var tilesAcross: Int { (outWidth + winogradTile - 1) / winogradTile }
        var tileRows: Int { (outHeight + winogradTile - 1) / winogradTile }
        /// Output rows im2col lays out at once: about `Conv.bandBytes` of columns; with
        /// Winograd, tile rows whose transforms V and M take about twice that.
        var bandRows: Int {
            if winograd {
                let perTileRow = 4 * products * (inChannels + outChannels) * tilesAcross
                return Swift.max(1, Swift.min(tileRows, 2 * Conv.bandBytes / perTileRow))
            }
            return Swift.max(1, Swift.min(outHeight, Conv.bandBytes / (4 * inChannels * 9 * outWidth)))
        }
        /// Images whose Winograd GEMMs are one call (convolutions small enough): as many
        /// of a batch as `callBytes` of V and M hold. `GEMM.nn` sums every column in the
        /// same order whatever the call's width, so an image's numbers do not depend on the
        /// others. At 8 × 8 one image has 16 tiles, too few columns for a GEMM to run at
        /// speed; four have 64. 1: bands of one image's tile rows.
        var imagesPerCall: Int {
            guard winograd else { return 1 }
            let fit = Swift.min(UNet2D.batch, Conv.callBytes / (4 * imageFloats))
            return fit >= 2 ? fit : 1
        }
        /// Winograd tiles of one image.
        var tiles: Int { tileRows * tilesAcross }
        /// Floats one image takes in a call of several: its V and M.
        var imageFloats: Int { products * (inChannels + outChannels) * tiles }
        /// Floats of the transforms' line scratch.
        var lineFloats: Int {
            winogradTile == 4 ? WinogradF4.lineFloats(width: outWidth) : Winograd.lineFloats(width: outWidth)
        }
        /// Floats of scratch one band (or call of `imagesPerCall` images) needs: V and M
        /// (`products` planes each, `planeStride` apart) and the transforms' lines.
        var bandFloats: Int {
            guard winograd else { return inChannels * 9 * bandRows * outWidth }
            let n = imagesPerCall > 1 ? imagesPerCall * tiles : bandRows * tilesAcross
            return products * (Conv.planeStride(inChannels * n) + Conv.planeStride(outChannels * n)) + lineFloats
        }
        /// The distance between Winograd planes of `floats` values: at least that, and 40
        /// past a multiple of 1024 floats (4 KiB). Planes a multiple of 4 KiB apart (every
        /// power-of-two channel count) put the transforms' 36 (16) streams in the same L1
        /// sets, and their stores alias their loads: 3–4× slower transforms.
        static func planeStride(_ floats: Int) -> Int { floats + ((40 - floats % 1024) % 1024 + 1024) % 1024 }
        /// Convolutions of at least this many output positions use Winograd (below, its
        /// GEMMs get too narrow to gain).
        static let winogradPositions = 64
        /// Convolutions of at least this many output positions use F(4×4, 3×3) (16 × 16
        /// and up: the widest GEMMs, most of a U-Net's work, and few of its weights, since
        /// U takes 36/9 of a kernel's values).
        static let winogradF4Positions = 256
        /// The im2col band's size: within a core's share of cache, and wide enough (≥ 64
        /// columns at these sizes) for the GEMM to run at speed.
        static let bandBytes = 4 << 20
        /// V and M of the images one Winograd call covers at most. With F(4×4) at 16 × 16
        /// (1.2 MB an image at 256 channels) 8 MiB lets four images share each GEMM, which
        /// reads each weight once for them: 2–3% of the forward at n = 8 against 2 MiB.
        static let callBytes = 8 << 20
    }

    struct Norm: Sendable {
        let input: Int, output: Int, channels: Int, spatial: Int, groups: Int, eps: Double
        let gamma: Int, beta: Int
        /// Offset of the per-channel shift in the time conditioning (a resnet's norm2).
        let shift: Int?
        let silu: Bool
    }

    struct AttentionOp: Sendable {
        let input: Int, output: Int, channels: Int, positions: Int, groups: Int, eps: Double
        let gamma: Int, beta: Int
        let q: Int, qBias: Int, k: Int, kBias: Int, v: Int, vBias: Int, out: Int, outBias: Int
        let heads: Int, headDim: Int
        var inner: Int { heads * headDim }
        let scale: Float, inverseRescale: Float
    }

    /// The time conditioning: features of the timestep τ, a two-layer MLP (silu between and
    /// after), and every resnet's projection of it (stacked at `shiftWeight`, `shiftBias`).
    struct Time: Sendable {
        enum Features: Sendable {
            /// [sin, cos] (or [cos, sin]) of τ·e^{−ln(10⁴)·j/(half − shift)}.
            case positional(flipSinToCos: Bool, shift: Double)
            /// [sin, cos] of 2π·W_j·ln τ, W at `fourier`.
            case fourier
        }
        var features = Features.positional(flipSinToCos: false, shift: 1)
        /// Whether there is any time conditioning (score_sde's `conditional`).
        var conditional = true
        var weight1 = 0, bias1 = 0, weight2 = 0, bias2 = 0, shiftWeight = 0, shiftBias = 0
        /// The Fourier features' frequencies.
        var fourier = 0
    }

    var ops: [Op] = []
    /// Channels, height and width of each value.
    var shapes: [(c: Int, h: Int, w: Int)] = []
    var output = 0
    var time = Time()
    var timeInputDim = 0, timeEmbedDim = 0, shiftRows = 0
    /// Offsets of the values in the arena (Floats), its size, the largest convolution band
    /// (im2col columns, or Winograd's V and M).
    var valueOffsets: [Int] = [], arenaFloats = 0, maxBandFloats = 0
    var maxAttention = (channels: 0, positions: 0, inner: 0)
    var flops = 0.0

    func size(_ id: Int) -> Int { shapes[id].c * shapes[id].h * shapes[id].w }

    /// Places every value by liveness: an op's output never shares memory with its inputs
    /// unless it is the same value (an op in place); a value's memory is free after its
    /// last use. First fit, with neighbouring free blocks merged.
    mutating func place() {
        var lastUse = Array(repeating: -1, count: shapes.count)
        var defined = Array(repeating: false, count: shapes.count)
        func inputs(_ op: Op) -> [Int] {
            switch op {
            case .affine(let i, _, _, _): [i]
            case .conv(let c): [c.input]
            case .norm(let n): [n.input]
            case .add(let a, let b, _, _): [a, b]
            case .upsample(let i, _, _, _, _): [i]
            case .concat(let a, let b, _): [a, b]
            case .attention(let a): [a.input]
            case .fir(let f): [f.input]
            }
        }
        func outputOf(_ op: Op) -> Int {
            switch op {
            case .affine(_, let o, _, _): o
            case .conv(let c): c.output
            case .norm(let n): n.output
            case .add(_, _, let o, _): o
            case .upsample(_, let o, _, _, _): o
            case .concat(_, _, let o): o
            case .attention(let a): a.output
            case .fir(let f): f.output
            }
        }
        for (i, op) in ops.enumerated() {
            for v in inputs(op) { lastUse[v] = i }
            lastUse[outputOf(op)] = Swift.max(lastUse[outputOf(op)], i)
        }
        lastUse[output] = ops.count
        var free: [(offset: Int, size: Int)] = []
        var end = 0
        valueOffsets = Array(repeating: 0, count: shapes.count)
        // Sizes rounded to 16 Floats keep every value 64-byte aligned.
        func rounded(_ n: Int) -> Int { (n + 15) / 16 * 16 }
        for (i, op) in ops.enumerated() {
            let out = outputOf(op)
            if !defined[out] {
                defined[out] = true
                let need = rounded(size(out))
                if let k = free.firstIndex(where: { $0.size >= need }) {
                    valueOffsets[out] = free[k].offset
                    if free[k].size == need { free.remove(at: k) } else {
                        free[k] = (free[k].offset + need, free[k].size - need)
                    }
                } else {
                    valueOffsets[out] = end
                    end += need
                }
            }
            for v in Set(inputs(op) + [out]) where v != 0 && lastUse[v] == i {
                free.append((valueOffsets[v], rounded(size(v))))
                free.sort { $0.offset < $1.offset }
                var merged: [(offset: Int, size: Int)] = []
                for block in free {
                    if let last = merged.last, last.offset + last.size == block.offset {
                        merged[merged.count - 1].size += block.size
                    } else {
                        merged.append(block)
                    }
                }
                free = merged
            }
        }
        arenaFloats = Swift.max(end, 16)
    }
}
