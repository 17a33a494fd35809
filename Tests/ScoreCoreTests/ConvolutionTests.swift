import Testing
import ScoreCore

@Suite("Convolution and GroupNorm kernels")
struct ConvolutionTests {
    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1) }
    }

    /// The transposed convolution's scatter is the adjoint of the convolution's gather:
    /// ⟨im2col(x), C⟩ = ⟨x, col2im(C)⟩ for every x and C, at strides 1 and 2.
    @Test("col2im is the adjoint of im2col", arguments: [(1, 9, 9), (2, 9, 9), (2, 12, 10), (2, 26, 26)])
    func adjoint(stride: Int, height: Int, width: Int) {
        let channels = 3
        let oh = Convolution.convolvedSize(height, stride: stride), ow = Convolution.convolvedSize(width, stride: stride)
        #expect(Convolution.transposedSize(oh, stride: stride, outputPadding: 0) <= height)
        let x = Self.random(channels * height * width, seed: 1)
        let c = Self.random(channels * 9 * oh * ow, seed: 2)
        var cols = [Float](repeating: .nan, count: c.count)
        Convolution.im2col(x, channels: channels, height: height, width: width, stride: stride, into: &cols)
        var back = [Float](repeating: .nan, count: x.count)
        Convolution.col2im(c, channels: channels, inputHeight: oh, inputWidth: ow, stride: stride,
                           outputHeight: height, outputWidth: width, into: &back)
        let left = zip(cols, c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let right = zip(x, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(left - right) <= 1e-4 * max(1, abs(left)), "⟨im2col x, C⟩ = \(left), ⟨x, col2im C⟩ = \(right)")
    }

    /// ConvTranspose2d's output size with output padding, as PyTorch computes it
    /// (the tutorial's decoder: 2 → 5 → 12 → 26 → 28).
    @Test func transposedSizes() {
        #expect(Convolution.transposedSize(2, stride: 2, outputPadding: 0) == 5)
        #expect(Convolution.transposedSize(5, stride: 2, outputPadding: 1) == 12)
        #expect(Convolution.transposedSize(12, stride: 2, outputPadding: 1) == 26)
        #expect(Convolution.transposedSize(26, stride: 1, outputPadding: 0) == 28)
        #expect([28, 26, 12, 5].map { Convolution.convolvedSize($0, stride: $0 == 28 ? 1 : 2) } == [26, 12, 5, 2])
    }

    /// GroupNorm's tangent against central differences of the forward pass (Float64
    /// statistics; the step and tolerance suit Float32 values of order 1).
    @Test("GroupNorm's tangent matches finite differences")
    func groupNormTangent() {
        let channels = 8, spatial = 10, groups = 4, n = channels * spatial
        let x = Self.random(n, seed: 3).map { $0 * 2 + 0.5 }, v = Self.random(n, seed: 4)
        let gamma = Self.random(channels, seed: 5).map { $0 + 1.5 }, beta = Self.random(channels, seed: 6)
        let shift = Self.random(channels, seed: 7)
        func forward(_ input: [Float], keep: Bool = false) -> (y: [Float], xhat: [Float], inv: [Float]) {
            var y = input, xhat = [Float](repeating: 0, count: n), inv = [Float](repeating: 0, count: groups)
            if keep {
                GroupNorm.forward(&y, channels: channels, spatial: spatial, groups: groups, shift: shift, gamma: gamma,
                                  beta: beta, normalized: &xhat, invStd: &inv)
            } else {
                GroupNorm.forward(&y, channels: channels, spatial: spatial, groups: groups, shift: shift, gamma: gamma,
                                  beta: beta)
            }
            return (y, xhat, inv)
        }
        let base = forward(x, keep: true)
        // y = γ x̂ + β, and x̂ has mean 0 and variance ~1 per group.
        for g in 0..<groups {
            let part = base.xhat[(g * 20)..<((g + 1) * 20)].map(Double.init)
            #expect(abs(part.reduce(0, +) / 20) < 1e-5)
            #expect(abs(part.map { $0 * $0 }.reduce(0, +) / 20 - 1) < 1e-3)
        }
        var tangent = v
        GroupNorm.tangent(&tangent, channels: channels, spatial: spatial, groups: groups, gamma: gamma,
                          normalized: base.xhat, invStd: base.inv)
        let h: Float = 1e-2
        let plus = forward(zip(x, v).map { $0 + h * $1 }).y, minus = forward(zip(x, v).map { $0 - h * $1 }).y
        let numeric = zip(plus, minus).map { ($0 - $1) / (2 * h) }
        let error = zip(numeric, tangent).map { abs($0 - $1) }.max()!
        #expect(error < 2e-3, "largest difference \(error)")
    }
}

@Suite("Winograd F(2×2, 3×3) and F(4×4, 3×3)")
struct WinogradTests {
    /// The direct 3×3 convolution with padding 1 in Float64.
    static func direct(_ x: [Float], _ g: [Float], c: Int, o: Int, h: Int, w: Int) -> [Double] {
        var out = [Double](repeating: 0, count: o * h * w)
        for oc in 0..<o { for y in 0..<h { for xx in 0..<w {
            var sum = 0.0
            for ic in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
                let iy = y + ky - 1, ix = xx + kx - 1
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                sum += Double(g[((oc * c + ic) * 3 + ky) * 3 + kx]) * Double(x[(ic * h + iy) * w + ix])
            } } }
            out[(oc * h + y) * w + xx] = sum
        } } }
        return out
    }

    @Test("matches the direct convolution on odd and even sides, in bands of tile rows (F(2×2) and F(4×4))",
          arguments: [(2, 5, 4, 7, 9), (2, 3, 6, 8, 8), (2, 2, 3, 1, 5),
                      (4, 5, 4, 7, 9), (4, 3, 6, 16, 16), (4, 2, 3, 1, 5), (4, 6, 5, 13, 6),
                      (4, 2, 3, 9, 32), (4, 3, 2, 6, 36), (4, 2, 2, 5, 64)])
    func matchesDirect(_ shape: (Int, Int, Int, Int, Int)) {
        let (tile, c, o, h, w) = shape
        var rng = SplitMix64(seed: 9)
        func uniform() -> Float { Float(Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1) }
        let x = (0..<(c * h * w)).map { _ in uniform() }, g = (0..<(o * c * 9)).map { _ in uniform() }
        let expected = Self.direct(x, g, c: c, o: o, h: h, w: w)
        let f4 = tile == 4, products = (tile + 2) * (tile + 2)
        let u = f4 ? WinogradF4.transformWeights(g, outChannels: o, inChannels: c)
            : Winograd.transformWeights(g, outChannels: o, inChannels: c)
        let across = (w + tile - 1) / tile, tileRows = (h + tile - 1) / tile
        var out = [Float](repeating: .nan, count: o * h * w)
        // Bands of two tile rows (the last may be shorter).
        var first = 0
        while first < tileRows {
            let rows = first..<min(tileRows, first + 2), tiles = rows.count * across
            var v = [Float](repeating: 0, count: products * c * tiles), m = [Float](repeating: 0, count: products * o * tiles)
            var lines = [Float](repeating: .nan, count: f4 ? WinogradF4.lineFloats(width: w) : Winograd.lineFloats(width: w))
            if f4 {
                WinogradF4.transformInput(x, channels: c, height: h, width: w, tileRows: rows, lines: &lines, into: &v)
            } else {
                Winograd.transformInput(x, channels: c, height: h, width: w, tileRows: rows, lines: &lines, into: &v)
            }
            for xi in 0..<products {
                for oc in 0..<o { for t in 0..<tiles {
                    var sum: Float = 0
                    for ic in 0..<c { sum += u[(xi * o + oc) * c + ic] * v[(xi * c + ic) * tiles + t] }
                    m[(xi * o + oc) * tiles + t] = sum
                } }
            }
            if f4 {
                WinogradF4.transformOutput(m, channels: o, height: h, width: w, tileRows: rows, bias: nil, lines: &lines,
                                           into: &out)
            } else {
                Winograd.transformOutput(m, channels: o, height: h, width: w, tileRows: rows, bias: nil, lines: &lines,
                                         into: &out)
            }
            first = rows.upperBound
        }
        let scale = expected.map { abs($0) }.max()!
        let error = zip(out, expected).map { abs(Double($0) - $1) }.max()!
        // F(4×4)'s transforms scale by up to 5 and 8: a few times F(2×2)'s rounding.
        #expect(error / scale < (f4 ? 4e-6 : 1e-6), "\(shape): error \(error / scale)")
    }

    @Test("planes further apart than C · tiles (UNet2D pads them off 4 KiB strides) give the same values, bit for bit",
          arguments: [(2, 16, 16), (4, 16, 16), (4, 32, 32), (4, 7, 28)])
    func planeStride(_ shape: (Int, Int, Int)) {
        let (tile, h, w) = shape, c = 3, f4 = tile == 4, products = (tile + 2) * (tile + 2)
        let tiles = ((h + tile - 1) / tile) * ((w + tile - 1) / tile), rows = 0..<((h + tile - 1) / tile)
        let x = ConvolutionTests.random(c * h * w, seed: 11), bias = ConvolutionTests.random(c, seed: 12)
        var lines = [Float](repeating: .nan, count: f4 ? WinogradF4.lineFloats(width: w) : Winograd.lineFloats(width: w))
        func transform(plane: Int) -> (v: [Float], out: [Float]) {
            var v = [Float](repeating: .nan, count: products * plane), out = [Float](repeating: .nan, count: c * h * w)
            if f4 {
                WinogradF4.transformInput(x, channels: c, height: h, width: w, tileRows: rows, lines: &lines, into: &v,
                                          planeStride: plane)
                WinogradF4.transformOutput(v, channels: c, height: h, width: w, tileRows: rows, bias: bias, lines: &lines,
                                           into: &out, planeStride: plane)
            } else {
                Winograd.transformInput(x, channels: c, height: h, width: w, tileRows: rows, lines: &lines, into: &v,
                                        planeStride: plane)
                Winograd.transformOutput(v, channels: c, height: h, width: w, tileRows: rows, bias: bias, lines: &lines,
                                         into: &out, planeStride: plane)
            }
            return (v, out)
        }
        let dense = transform(plane: c * tiles), padded = transform(plane: c * tiles + 40)
        for xi in 0..<products {
            let a = dense.v[(xi * c * tiles)..<((xi + 1) * c * tiles)].map(\.bitPattern)
            let b = padded.v[(xi * (c * tiles + 40))..<(xi * (c * tiles + 40) + c * tiles)].map(\.bitPattern)
            #expect(a == b, "plane \(xi)")
        }
        #expect(dense.out.map(\.bitPattern) == padded.out.map(\.bitPattern))
        #expect(!dense.out.contains { $0.isNaN })
    }
}
