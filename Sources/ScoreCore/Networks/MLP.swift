import Foundation
import ScoreJSON
import ScoreKernels

/// The residual MLP of the model format, with a Gaussian Fourier time embedding:
///
///     φ = [sin(2π t W), cos(2π t W)];  e = silu(embed.1(φ));  h = proj_in(x)
///     for each block i:  h = h + dense_i(silu(h + temb_i(e)))
///     s(x, t) = proj_out(silu(h)) / σ_t
///
/// Parameters live in one immutable allocation (biases and Fourier frequencies are
/// read from it); each weight matrix is also packed once for `PackedLinear`.
public final class MLP: ScoreNetwork, @unchecked Sendable {
    // @unchecked Sendable: `weights` is written once in init and only read afterwards.

    public let sde: SDE
    /// D, H, L, E.
    public let dimension: Int
    public let hidden: Int
    public let blocks: Int
    public let embedDim: Int
    public let parameterCount: Int

    /// Where each tensor sits in `weights`.
    public let layout: MLPLayout
    private let weights: UnsafeMutablePointer<Float>
    private var fourier: Int { layout.fourier }
    private var embedB: Int { layout.embedB }
    private var inB: Int { layout.inB }
    private var tembB: Int { layout.tembB }
    private var denseB: Int { layout.denseB }
    private var outB: Int { layout.outB }
    /// Every weight matrix packed for `PackedLinear` (a copy of `weights`' matrices).
    private let packed: Packed

    private struct Packed {
        let embed: PackedLinear, projIn: PackedLinear, projOut: PackedLinear
        let temb: [PackedLinear], dense: [PackedLinear]
    }

    /// The tensors of one network, as PyTorch names them.
    public struct Tensors {
        public var fourier: [Float]            // embed.0.W [E/2]
        public var embedWeight: [Float]        // embed.1.weight [E, E]
        public var embedBias: [Float]          // embed.1.bias [E]
        public var inWeight: [Float]           // proj_in.weight [H, D]
        public var inBias: [Float]             // proj_in.bias [H]
        public var tembWeight: [[Float]]       // blocks.i.temb.weight [H, E]
        public var tembBias: [[Float]]         // blocks.i.temb.bias [H]
        public var denseWeight: [[Float]]      // blocks.i.dense.weight [H, H]
        public var denseBias: [[Float]]        // blocks.i.dense.bias [H]
        public var outWeight: [Float]          // proj_out.weight [D, H]
        public var outBias: [Float]            // proj_out.bias [D]

        public init(fourier: [Float], embedWeight: [Float], embedBias: [Float],
                    inWeight: [Float], inBias: [Float],
                    tembWeight: [[Float]], tembBias: [[Float]],
                    denseWeight: [[Float]], denseBias: [[Float]],
                    outWeight: [Float], outBias: [Float]) {
            self.fourier = fourier; self.embedWeight = embedWeight; self.embedBias = embedBias
            self.inWeight = inWeight; self.inBias = inBias
            self.tembWeight = tembWeight; self.tembBias = tembBias
            self.denseWeight = denseWeight; self.denseBias = denseBias
            self.outWeight = outWeight; self.outBias = outBias
        }
    }

    /// Builds the network from tensors whose shapes the caller has checked.
    public convenience init(sde: SDE, dimension d: Int, hidden h: Int, blocks l: Int, embedDim e: Int, tensors t: Tensors) {
        let layout = MLPLayout(dimension: d, hidden: h, blocks: l, embedDim: e)
        var p = [Float](repeating: 0, count: layout.count)
        func put(_ values: [Float], at offset: Int) { p.replaceSubrange(offset..<(offset + values.count), with: values) }
        put(t.fourier, at: layout.fourier); put(t.embedWeight, at: layout.embedW); put(t.embedBias, at: layout.embedB)
        put(t.inWeight, at: layout.inW); put(t.inBias, at: layout.inB)
        for i in 0..<l {
            put(t.tembWeight[i], at: layout.tembW + i * h * e); put(t.tembBias[i], at: layout.tembB + i * h)
            put(t.denseWeight[i], at: layout.denseW + i * h * h); put(t.denseBias[i], at: layout.denseB + i * h)
        }
        put(t.outWeight, at: layout.outW); put(t.outBias, at: layout.outB)
        self.init(sde: sde, layout: layout, parameters: p)
    }

    /// Builds the network from one flat parameter vector in `layout`'s order.
    public init(sde: SDE, layout: MLPLayout, parameters p: [Float]) {
        precondition(p.count == layout.count)
        self.sde = sde
        self.layout = layout
        dimension = layout.dimension; hidden = layout.hidden; blocks = layout.blocks; embedDim = layout.embedDim
        parameterCount = layout.count
        let all = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(layout.count, 1))
        p.withUnsafeBufferPointer { all.update(from: $0.baseAddress!, count: p.count) }
        weights = all
        let (d, h, e, w) = (layout.dimension, layout.hidden, layout.embedDim, UnsafePointer(all))
        packed = Packed(
            embed: PackedLinear(weight: w + layout.embedW, outputs: e, inputs: e),
            projIn: PackedLinear(weight: w + layout.inW, outputs: h, inputs: d),
            projOut: PackedLinear(weight: w + layout.outW, outputs: d, inputs: h),
            temb: (0..<layout.blocks).map { PackedLinear(weight: w + layout.tembW + $0 * h * e, outputs: h, inputs: e) },
            dense: (0..<layout.blocks).map { PackedLinear(weight: w + layout.denseW + $0 * h * h, outputs: h, inputs: h) })
    }

    deinit { weights.deallocate() }

    public var typeName: String { "mlp" }

    public var hyperparameters: [(String, Hyperparameter)] {
        [("hidden", .integer(hidden)), ("blocks", .integer(blocks)), ("embed_dim", .integer(embedDim))]
    }

    private struct Layout {
        var x = 0, phi = 0, e = 0, temb = 0, slot = 0, h = 0, u = 0, out = 0, pre = 0
        var tx = 0, th = 0, tu = 0, tout = 0
        var bytes = 0
    }

    /// Scratch layout for `b` rows and, for JVPs, `tangents` vectors per row (no
    /// padding: `PackedLinear` takes any number of rows).
    private func layout(rows b: Int, tangents p: Int = 0) -> Layout {
        var s = ScratchLayout()
        var o = Layout()
        o.x = s.reserve(Float.self, b * dimension)
        o.phi = s.reserve(Float.self, b * embedDim)
        o.e = s.reserve(Float.self, b * embedDim)
        o.temb = s.reserve(Float.self, b * blocks * hidden)
        o.slot = s.reserve(Int32.self, b)
        o.h = s.reserve(Float.self, b * hidden)
        o.u = s.reserve(Float.self, b * hidden)
        o.out = s.reserve(Float.self, b * dimension)
        if p > 0 {
            let tp = b * p
            o.pre = s.reserve(Float.self, (blocks + 1) * b * hidden)  // silu' at each silu's input
            o.tx = s.reserve(Float.self, tp * dimension)
            o.th = s.reserve(Float.self, tp * hidden)
            o.tu = s.reserve(Float.self, tp * hidden)
            o.tout = s.reserve(Float.self, tp * dimension)
        }
        o.bytes = s.bytes
        return o
    }

    public func workspaceBytes(rows: Int) -> Int { layout(rows: rows).bytes }

    /// φ(t) = [sin(2π t W), cos(2π t W)] into `row` ([E]); the argument in Float64 keeps
    /// sin/cos accurate for large frequencies.
    private func fourierFeatures(_ t: Double, into row: UnsafeMutablePointer<Float>) {
        VectorMath.fourierFeatures(scale: 2 * Double.pi * t, frequencies: UnsafePointer(weights) + fourier,
                                   count: embedDim / 2, into: row)
    }

    /// The blocks' time projections of `count` Fourier rows `phi` ([count × E]):
    /// `temb` = [count × L·H], `emb` is scratch ([count × E]).
    private func timeProjections(_ count: Int, phi: UnsafeMutablePointer<Float>, emb: UnsafeMutablePointer<Float>,
                                 into temb: UnsafeMutablePointer<Float>) {
        let (h, l, e) = (hidden, blocks, embedDim)
        let w = UnsafePointer(weights)
        // e = silu(φ W1ᵀ + b1)
        Elementwise.broadcastRows(w + embedB, rows: count, columns: e, into: emb)
        packed.embed.apply(rows: count, a: phi, lda: e, c: emb, ldc: e)
        VectorMath.siluInPlace(emb, count: count * e)
        // All blocks' time projections, one block's weights at a time.
        Elementwise.broadcastRows(w + tembB, rows: count, columns: l * h, into: temb)
        for i in 0..<l {
            packed.temb[i].apply(rows: count, a: emb, lda: e, c: temb + i * h, ldc: l * h)
        }
    }

    public func timeTableBytes(steps: Int) -> Int? { steps * blocks * hidden * MemoryLayout<Float>.stride }

    public func timeTable(_ times: [Double], maxBytes: Int) -> TimeTable? {
        let width = blocks * hidden
        guard !times.isEmpty, let bytes = timeTableBytes(steps: times.count), bytes <= maxBytes else { return nil }
        return TimeTable(times: times, width: width) { table in
            let batch = 256
            let phi = UnsafeMutablePointer<Float>.allocate(capacity: batch * embedDim)
            let emb = UnsafeMutablePointer<Float>.allocate(capacity: batch * embedDim)
            let temb = UnsafeMutablePointer<Float>.allocate(capacity: batch * width)
            defer { phi.deallocate(); emb.deallocate(); temb.deallocate() }
            var start = 0
            while start < times.count {
                let count = Swift.min(batch, times.count - start)
                for r in 0..<count { fourierFeatures(times[start + r], into: phi + r * embedDim) }
                timeProjections(count, phi: phi, emb: emb, into: temb)
                (table + start * width).update(from: temb, count: count * width)
                start += count
            }
        }
    }

    public func score(_ x: UnsafePointer<Float>, table: TimeTable, slots: UnsafePointer<Int32>, rows b: Int,
                      into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer) {
        guard b > 0 else { return }
        let o = layout(rows: b)
        forward(x, times: nil, precomputed: (table, slots), rows: b, layout: o, scratch: scratch, siluDerivatives: nil)
        out.update(from: (scratch + o.out).assumingMemoryBound(to: Float.self), count: b * dimension)
    }

    public var supportsJVP: Bool { true }

    public func jvpWorkspaceBytes(rows: Int, tangents: Int) -> Int { layout(rows: rows, tangents: tangents).bytes }

    public func score(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows b: Int,
                      into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer) {
        guard b > 0 else { return }
        let o = layout(rows: b)
        forward(x, times: times, rows: b, layout: o, scratch: scratch, siluDerivatives: nil)
        let result = (scratch + o.out).assumingMemoryBound(to: Float.self)
        out.update(from: result, count: b * dimension)
    }

    /// The primal pass over `b` rows padded to whole row groups; the scaled scores are
    /// left in the layout's `out` region and the final residual stream in `h`. With
    /// `siluDerivatives`, silu' at each block's input `h + temb` and at the final
    /// `silu(h)` is kept there ([(L + 1) × padded rows × H]).
    private func forward(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>?,
                         precomputed: (TimeTable, UnsafePointer<Int32>)? = nil, rows b: Int,
                         layout o: Layout, scratch: UnsafeMutableRawPointer,
                         siluDerivatives: UnsafeMutablePointer<Float>?) {
        let (d, h, l, e) = (dimension, hidden, blocks, embedDim)
        let xs = (scratch + o.x).assumingMemoryBound(to: Float.self)
        let phi = (scratch + o.phi).assumingMemoryBound(to: Float.self)
        let emb = (scratch + o.e).assumingMemoryBound(to: Float.self)
        let temb = (scratch + o.temb).assumingMemoryBound(to: Float.self)
        let hs = (scratch + o.h).assumingMemoryBound(to: Float.self)
        let u = (scratch + o.u).assumingMemoryBound(to: Float.self)
        let out = (scratch + o.out).assumingMemoryBound(to: Float.self)
        let w = UnsafePointer(weights)

        xs.update(from: x, count: b * d)

        // Row r's time conditioning: a table row, or computed here once per run of equal
        // times (every row of a fixed-step sampler shares one).
        let slot: UnsafePointer<Int32>, tembRows: UnsafePointer<Float>
        if let (table, slots) = precomputed {
            slot = slots
            tembRows = table.row(0)
        } else {
            let slots = (scratch + o.slot).assumingMemoryBound(to: Int32.self)
            var distinct = 0
            for r in 0..<b {
                if r > 0, times![r] == times![r - 1] {
                    slots[r] = slots[r - 1]
                } else {
                    slots[r] = Int32(distinct)
                    fourierFeatures(times![r], into: phi + distinct * e)
                    distinct += 1
                }
            }
            timeProjections(distinct, phi: phi, emb: emb, into: temb)
            slot = UnsafePointer(slots)
            tembRows = UnsafePointer(temb)
        }
        // h = x Winᵀ + b_in
        Elementwise.broadcastRows(w + inB, rows: b, columns: h, into: hs)
        packed.projIn.apply(rows: b, a: xs, lda: d, c: hs, ldc: h)
        for i in 0..<l {
            let bias = w + denseB + i * h
            for r in 0..<b {
                let tr = tembRows + Int(slot[r]) * l * h + i * h
                if let siluDerivatives {
                    VectorMath.blockInput(h: hs + r * h, temb: tr, bias: bias, u: u + r * h,
                                          derivative: siluDerivatives + (i * b + r) * h, count: h)
                } else {
                    VectorMath.blockInput(h: hs + r * h, temb: tr, bias: bias, u: u + r * h, count: h)
                }
            }
            packed.dense[i].apply(rows: b, a: u, lda: h, c: hs, ldc: h)
        }
        if let siluDerivatives {
            VectorMath.silu(hs, into: u, derivative: siluDerivatives + l * b * h, count: b * h)
        } else {
            VectorMath.silu(hs, into: u, count: b * h)
        }
        Elementwise.broadcastRows(w + outB, rows: b, columns: d, into: out)
        packed.projOut.apply(rows: b, a: u, lda: h, c: out, ldc: d)
        for r in 0..<b {
            let t = precomputed.map { $0.0.times[Int($0.1[r])] } ?? times![r]
            let inv = Float(1 / sde.marginalStd(t))
            let row = out + r * d
            for j in 0..<d { row[j] *= inv }
        }
    }

    /// Forward-mode JVP: tangents enter at `proj_in` (the time embedding does not
    /// depend on x) and follow each silu through its derivative at the primal point.
    public func jvp(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows b: Int,
                    tangents p: Int, v: UnsafePointer<Float>,
                    score scoreOut: UnsafeMutablePointer<Float>, jv: UnsafeMutablePointer<Float>,
                    scratch: UnsafeMutableRawPointer) {
        guard b > 0, p > 0 else { return }
        let (d, h, l) = (dimension, hidden, blocks)
        let o = layout(rows: b, tangents: p)
        let pre = (scratch + o.pre).assumingMemoryBound(to: Float.self)
        forward(x, times: times, rows: b, layout: o, scratch: scratch, siluDerivatives: pre)
        scoreOut.update(from: (scratch + o.out).assumingMemoryBound(to: Float.self), count: b * d)

        let tx = (scratch + o.tx).assumingMemoryBound(to: Float.self)
        let th = (scratch + o.th).assumingMemoryBound(to: Float.self)
        let tu = (scratch + o.tu).assumingMemoryBound(to: Float.self)
        let tout = (scratch + o.tout).assumingMemoryBound(to: Float.self)
        let rows = b * p

        tx.update(from: v, count: rows * d)
        // h' = v W_inᵀ
        th.update(repeating: 0, count: rows * h)
        packed.projIn.apply(rows: rows, a: tx, lda: d, c: th, ldc: h)
        for i in 0..<l {
            // u' = silu'(h + temb) ⊙ h'; h' += u' W_dᵀ
            for q in 0..<rows {
                VectorMath.multiply(pre + (i * b + q / p) * h, th + q * h, into: tu + q * h, count: h)
            }
            packed.dense[i].apply(rows: rows, a: tu, lda: h, c: th, ldc: h)
        }
        for q in 0..<rows {
            VectorMath.multiply(pre + (l * b + q / p) * h, th + q * h, into: tu + q * h, count: h)
        }
        tout.update(repeating: 0, count: rows * d)
        packed.projOut.apply(rows: rows, a: tu, lda: h, c: tout, ldc: d)
        for q in 0..<rows {
            let inv = Float(1 / sde.marginalStd(times[q / p]))
            for j in 0..<d { jv[q * d + j] = tout[q * d + j] * inv }
        }
    }
}
