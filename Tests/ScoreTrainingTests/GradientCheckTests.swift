import Foundation
import Testing
import ScoreCore
import ScoreTraining

/// The hand-written backward pass against central finite differences of an
/// independent Float64 implementation of the same loss.
@Suite("Gradient check")
struct GradientCheckTests {
    /// The residual MLP's output o (= σ_t·s) in Float64, written from the model format's
    /// formulas without sharing code with the product.
    static func reference(_ p: [Double], _ L: MLPLayout, x: [Double], t: Double) -> [Double] {
        let (d, h, l, e) = (L.dimension, L.hidden, L.blocks, L.embedDim)
        func linear(_ input: [Double], _ w: Int, _ b: Int, out: Int) -> [Double] {
            (0..<out).map { i in p[b + i] + input.indices.reduce(0) { $0 + p[w + i * input.count + $1] * input[$1] } }
        }
        func silu(_ z: Double) -> Double { z / (1 + exp(-z)) }
        let phi = (0..<(e / 2)).map { sin(2 * .pi * t * p[L.fourier + $0]) } + (0..<(e / 2)).map { cos(2 * .pi * t * p[L.fourier + $0]) }
        let emb = linear(phi, L.embedW, L.embedB, out: e).map(silu)
        var hs = linear(x, L.inW, L.inB, out: h)
        for i in 0..<l {
            let tau = linear(emb, L.tembW + i * h * e, L.tembB + i * h, out: h)
            let u = zip(hs, tau).map { silu($0 + $1) }
            let dense = linear(u, L.denseW + i * h * h, L.denseB + i * h, out: h)
            hs = zip(hs, dense).map { $0 + $1 }
        }
        return linear(hs.map(silu), L.outW, L.outB, out: d)
    }

    @Test("backward equals finite differences for every parameter tensor (relative error ≤ 1e-3)")
    func gradientCheck() throws {
        let layout = MLPLayout(dimension: 3, hidden: 6, blocks: 2, embedDim: 4)
        let rows = 5
        let params = layout.initialParameters(seed: 11, fourierScale: 2)
        var rng = SplitMix64(seed: 3)
        let x = (0..<(rows * 3)).map { _ in Float(rng.normal()) }
        let times = (0..<rows).map { _ in 0.05 + 0.9 * rng.uniform() }
        let target = (0..<(rows * 3)).map { _ in Float(rng.normal()) }
        let weight: Float = 1 / Float(rows)

        let backprop = MLPBackprop(layout: layout, rows: rows)
        var grad = [Float](repeating: 0, count: layout.count)
        _ = params.withUnsafeBufferPointer { p in x.withUnsafeBufferPointer { xp in times.withUnsafeBufferPointer { tp in
            target.withUnsafeBufferPointer { yp in grad.withUnsafeMutableBufferPointer { gp in
                backprop.lossAndGradient(p.baseAddress!, x: xp.baseAddress!, times: tp.baseAddress!, target: yp.baseAddress!,
                                         used: rows, weight: weight, grad: gp.baseAddress!)
            } }
        } } }

        func loss(_ p: [Double]) -> Double {
            var total = 0.0
            for r in 0..<rows {
                let o = Self.reference(p, layout, x: (0..<3).map { Double(x[r * 3 + $0]) }, t: times[r])
                for j in 0..<3 { let diff = o[j] - Double(target[r * 3 + j]); total += diff * diff }
            }
            return total * Double(weight)
        }
        // The Float32 parameters, exactly, as the Float64 reference's starting point.
        let p64 = params.map(Double.init)
        var fd = [Double](repeating: 0, count: layout.count)
        for i in layout.embedW..<layout.count {  // the Fourier frequencies are fixed (no gradient)
            var plus = p64, minus = p64
            plus[i] += 1e-6
            minus[i] -= 1e-6
            fd[i] = (loss(plus) - loss(minus)) / 2e-6
        }
        #expect(grad[layout.fourier..<layout.embedW].allSatisfy { $0 == 0 })
        for entry in layout.entries(params.map { _ in 0 }).map(\.name) {
            let range = Self.range(of: entry, layout)
            let diff = range.reduce(0.0) { $0 + pow(Double(grad[$1]) - fd[$1], 2) }.squareRoot()
            let norm = range.reduce(0.0) { $0 + fd[$1] * fd[$1] }.squareRoot()
            if entry == "embed.0.W" { continue }
            #expect(norm > 0, "\(entry) has a zero gradient")
            #expect(diff <= 1e-3 * norm, "\(entry): relative error \(diff / norm)")
        }
    }

    /// The flat index range of a tensor.
    static func range(of name: String, _ L: MLPLayout) -> Range<Int> {
        let (d, h, e) = (L.dimension, L.hidden, L.embedDim)
        switch name {
        case "embed.0.W": return L.fourier..<(L.fourier + e / 2)
        case "embed.1.weight": return L.embedW..<(L.embedW + e * e)
        case "embed.1.bias": return L.embedB..<(L.embedB + e)
        case "proj_in.weight": return L.inW..<(L.inW + h * d)
        case "proj_in.bias": return L.inB..<(L.inB + h)
        case "proj_out.weight": return L.outW..<(L.outW + d * h)
        case "proj_out.bias": return L.outB..<(L.outB + d)
        default:
            let parts = name.split(separator: ".")
            let i = Int(parts[1])!
            switch (parts[2], parts[3]) {
            case ("temb", "weight"): return (L.tembW + i * h * e)..<(L.tembW + (i + 1) * h * e)
            case ("temb", "bias"): return (L.tembB + i * h)..<(L.tembB + (i + 1) * h)
            case ("dense", "weight"): return (L.denseW + i * h * h)..<(L.denseW + (i + 1) * h * h)
            default: return (L.denseB + i * h)..<(L.denseB + (i + 1) * h)
            }
        }
    }
}

