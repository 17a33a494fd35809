import Foundation
import ScoreJSON

/// The residual MLP of the model format, with a Gaussian Fourier time embedding:
///
///     φ = [sin(2π t W), cos(2π t W)];  e = silu(embed.1(φ));  h = proj_in(x)
///     for each block i:  h = h + dense_i(silu(h + temb_i(e)))
///     s(x, t) = proj_out(silu(h)) / σ_t
///
/// Weights live in one immutable allocation; the L time projections are stacked
/// into one `[L·H × E]` matrix so all of them cost a single GEMM.
public final class MLP: ScoreNetwork, @unchecked Sendable {
    // @unchecked Sendable: `weights` is written once in init and only read afterwards.

    public let sde: SDE
    /// D, H, L, E.
    public let dimension: Int
    public let hidden: Int
    public let blocks: Int
    public let embedDim: Int
    public let parameterCount: Int

    private let weights: UnsafeMutablePointer<Float>
    private let fourier: Int, embedW: Int, embedB: Int, inW: Int, inB: Int
    private let tembW: Int, tembB: Int, denseW: Int, denseB: Int, outW: Int, outB: Int

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
    public init(sde: SDE, dimension d: Int, hidden h: Int, blocks l: Int, embedDim e: Int, tensors t: Tensors) {
        self.sde = sde
        dimension = d; hidden = h; blocks = l; embedDim = e
        var layout = 0
        func take(_ n: Int) -> Int { defer { layout += n }; return layout }
        fourier = take(e / 2); embedW = take(e * e); embedB = take(e)
        inW = take(h * d); inB = take(h)
        tembW = take(l * h * e); tembB = take(l * h)
        denseW = take(l * h * h); denseB = take(l * h)
        outW = take(d * h); outB = take(d)
        parameterCount = layout
        weights = .allocate(capacity: Swift.max(layout, 1))
        func put(_ values: [Float], at offset: Int) {
            values.withUnsafeBufferPointer { (weights + offset).update(from: $0.baseAddress!, count: values.count) }
        }
        put(t.fourier, at: fourier); put(t.embedWeight, at: embedW); put(t.embedBias, at: embedB)
        put(t.inWeight, at: inW); put(t.inBias, at: inB)
        for i in 0..<l {
            put(t.tembWeight[i], at: tembW + i * h * e); put(t.tembBias[i], at: tembB + i * h)
            put(t.denseWeight[i], at: denseW + i * h * h); put(t.denseBias[i], at: denseB + i * h)
        }
        put(t.outWeight, at: outW); put(t.outBias, at: outB)
    }

    deinit { weights.deallocate() }

    public var typeName: String { "mlp" }

    public var summary: JSONObject {
        JSONObject(["type": .string("mlp"), "hidden": .integer(Int64(hidden)),
                    "blocks": .integer(Int64(blocks)), "embed_dim": .integer(Int64(embedDim))])
    }

    private func layout(rows b: Int) -> (phi: Int, e: Int, temb: Int, h: Int, u: Int, bytes: Int) {
        var s = ScratchLayout()
        let phi = s.reserve(Float.self, b * embedDim)
        let e = s.reserve(Float.self, b * embedDim)
        let temb = s.reserve(Float.self, b * blocks * hidden)
        let h = s.reserve(Float.self, b * hidden)
        let u = s.reserve(Float.self, b * hidden)
        return (phi, e, temb, h, u, s.bytes)
    }

    public func workspaceBytes(rows: Int) -> Int { layout(rows: rows).bytes }

    public func score(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows b: Int,
                      into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer) {
        guard b > 0 else { return }
        let (d, h, l, e) = (dimension, hidden, blocks, embedDim)
        let o = layout(rows: b)
        let phi = (scratch + o.phi).assumingMemoryBound(to: Float.self)
        let emb = (scratch + o.e).assumingMemoryBound(to: Float.self)
        let temb = (scratch + o.temb).assumingMemoryBound(to: Float.self)
        let hs = (scratch + o.h).assumingMemoryBound(to: Float.self)
        let u = (scratch + o.u).assumingMemoryBound(to: Float.self)
        let w = UnsafePointer(weights)
        let half = e / 2

        // Gaussian Fourier features; the argument in Float64 keeps sin/cos accurate
        // for large frequencies.
        for r in 0..<b {
            let twoPiT = 2 * Double.pi * times[r]
            let row = phi + r * e
            for j in 0..<half {
                let arg = twoPiT * Double(w[fourier + j])
                row[j] = Float(Foundation.sin(arg))
                row[half + j] = Float(Foundation.cos(arg))
            }
        }
        // e = silu(φ W1ᵀ + b1)
        Elementwise.broadcastRows(w + embedB, rows: b, columns: e, into: emb)
        BLAS.linear(m: b, n: e, k: e, a: phi, weight: w + embedW, beta: 1, c: emb)
        Elementwise.siluInPlace(emb, count: b * e)
        // All blocks' time projections at once: [b × L·H].
        if l > 0 {
            Elementwise.broadcastRows(w + tembB, rows: b, columns: l * h, into: temb)
            BLAS.linear(m: b, n: l * h, k: e, a: emb, weight: w + tembW, beta: 1, c: temb)
        }
        // h = x Winᵀ + b_in
        Elementwise.broadcastRows(w + inB, rows: b, columns: h, into: hs)
        BLAS.linear(m: b, n: h, k: d, a: x, weight: w + inW, beta: 1, c: hs)
        for i in 0..<l {
            let bias = w + denseB + i * h
            for r in 0..<b {
                let hr = hs + r * h, ur = u + r * h, tr = temb + r * l * h + i * h
                for j in 0..<h {
                    ur[j] = Elementwise.silu(hr[j] + tr[j])
                    hr[j] += bias[j]  // the dense bias, added before the GEMM accumulates
                }
            }
            BLAS.linear(m: b, n: h, k: h, a: u, weight: w + denseW + i * h * h, beta: 1, c: hs)
        }
        Elementwise.silu(hs, into: u, count: b * h)
        Elementwise.broadcastRows(w + outB, rows: b, columns: d, into: out)
        BLAS.linear(m: b, n: d, k: h, a: u, weight: w + outW, beta: 1, c: out)
        for r in 0..<b {
            let inv = Float(1 / sde.marginalStd(times[r]))
            let row = out + r * d
            for j in 0..<d { row[j] *= inv }
        }
    }
}
