/// Where each tensor of a residual MLP sits in one flat Float32 parameter vector, in
/// the order `MLP` stores them (the L time projections stacked into [L·H × E]).
public struct MLPLayout: Sendable, Equatable {
    public let dimension: Int, hidden: Int, blocks: Int, embedDim: Int
    public let fourier: Int, embedW: Int, embedB: Int, inW: Int, inB: Int
    public let tembW: Int, tembB: Int, denseW: Int, denseB: Int, outW: Int, outB: Int
    /// Total number of parameters (including the fixed Fourier frequencies).
    public let count: Int

    public init(dimension d: Int, hidden h: Int, blocks l: Int, embedDim e: Int) {
        precondition(d > 0 && h > 0 && l >= 0 && e >= 2 && e % 2 == 0)
        dimension = d; hidden = h; blocks = l; embedDim = e
        var n = 0
        func take(_ k: Int) -> Int { defer { n += k }; return n }
        fourier = take(e / 2); embedW = take(e * e); embedB = take(e)
        inW = take(h * d); inB = take(h)
        tembW = take(l * h * e); tembB = take(l * h)
        denseW = take(l * h * h); denseB = take(l * h)
        outW = take(d * h); outB = take(d)
        count = n
    }

    /// The tensors, named as PyTorch's `state_dict()` names them.
    public func entries(_ p: [Float]) -> [SafeTensors.Entry] {
        let (d, h, l, e) = (dimension, hidden, blocks, embedDim)
        func slice(_ at: Int, _ n: Int) -> [Float] { Array(p[at..<(at + n)]) }
        var out: [SafeTensors.Entry] = [
            .init(name: "embed.0.W", shape: [e / 2], values: slice(fourier, e / 2)),
            .init(name: "embed.1.weight", shape: [e, e], values: slice(embedW, e * e)),
            .init(name: "embed.1.bias", shape: [e], values: slice(embedB, e)),
            .init(name: "proj_in.weight", shape: [h, d], values: slice(inW, h * d)),
            .init(name: "proj_in.bias", shape: [h], values: slice(inB, h)),
            .init(name: "proj_out.weight", shape: [d, h], values: slice(outW, d * h)),
            .init(name: "proj_out.bias", shape: [d], values: slice(outB, d)),
        ]
        for i in 0..<l {
            out += [
                .init(name: "blocks.\(i).temb.weight", shape: [h, e], values: slice(tembW + i * h * e, h * e)),
                .init(name: "blocks.\(i).temb.bias", shape: [h], values: slice(tembB + i * h, h)),
                .init(name: "blocks.\(i).dense.weight", shape: [h, h], values: slice(denseW + i * h * h, h * h)),
                .init(name: "blocks.\(i).dense.bias", shape: [h], values: slice(denseB + i * h, h)),
            ]
        }
        return out
    }
}
