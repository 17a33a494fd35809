/// Winograd's F(2×2, 3×3) for 3×3 convolutions of stride 1 and padding 1 (Lavin & Gray,
/// "Fast Algorithms for Convolutional Neural Networks", 2016): each 2×2 output tile is
/// Aᵀ[Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)]A over the 4×4 input patch d, so the channel sums are 16
/// GEMMs `M_ξ = U_ξ V_ξ` with 2.25× fewer multiply-adds than im2col's one. The
/// transforms only add and halve, so results stay within a few ulp of the direct sum.
/// Images are channel-major; tiles are numbered row by row (⌈W/2⌉ per row).
public enum Winograd {
    /// Floats of line scratch the transforms of an image `width` wide need.
    public static func lineFloats(width w: Int) -> Int { 16 * ((w + 1) / 2 + 1) }

    /// U = G g Gᵀ of `[out × in × 3 × 3]` weights, laid out `[16 × out × in]` (U_ξ for
    /// ξ = 4i + j), computed in Float64.
    public static func transformWeights(_ g: [Float], outChannels: Int, inChannels: Int) -> [Float] {
        transformWeights(g, outChannels: outChannels, inChannels: inChannels,
                         G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    }

    /// U = G g Gᵀ for an α × 3 matrix G, laid out `[α² × out × in]` (ξ = αi + j), in Float64.
    static func transformWeights(_ g: [Float], outChannels: Int, inChannels: Int, G: [[Double]]) -> [Float] {
        let alpha = G.count
        var u = [Float](repeating: 0, count: alpha * alpha * outChannels * inChannels)
        for o in 0..<outChannels {
            for c in 0..<inChannels {
                let kernel = (o * inChannels + c) * 9
                for i in 0..<alpha {
                    for j in 0..<alpha {
                        var sum = 0.0
                        for a in 0..<3 { for b in 0..<3 { sum += G[i][a] * Double(g[kernel + a * 3 + b]) * G[j][b] } }
                        u[((alpha * i + j) * outChannels + o) * inChannels + c] = Float(sum)
                    }
                }
            }
        }
        return u
    }

    /// V_ξ[c, tile] = (Bᵀ d B)_ξ for the tiles of tile rows `rows` (padding 1 around the
    /// image), into `v` laid out `[16 × C × tiles]` with `tiles = rows.count · ⌈W/2⌉`
    /// (or `rowStride`, when V's rows hold more images' tiles), planes `planeStride` apart
    /// (default C · tiles).
    /// Row by row: the four input lines of a tile row, split into their even and odd
    /// columns of the zero-padded line (E[k] = d[2k], O[k] = d[2k + 1]), their Bᵀ
    /// combinations, then each of the 16 outputs as a contiguous run over the row's tiles
    /// (a tile's four columns are E[k], O[k], E[k + 1], O[k + 1]), so every loop is a
    /// vector loop. `lines` is scratch of `lineFloats(width:)`.
    public static func transformInput(_ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                      tileRows rows: Range<Int>, lines: UnsafeMutablePointer<Float>,
                                      into v: UnsafeMutablePointer<Float>, rowStride: Int? = nil,
                                      planeStride: Int? = nil) {
        let across = (w + 1) / 2, tiles = rowStride ?? rows.count * across, plane = planeStride ?? channels * tiles
        let n = across + 1   // padded columns −1 … 2·across, split in two
        let even = lines, odd = lines + 4 * n, combinedEven = lines + 8 * n, combinedOdd = lines + 12 * n
        for c in 0..<channels {
            let image = x + c * h * w
            for ty in rows {
                for r in 0..<4 {
                    let y = 2 * ty - 1 + r
                    split(y >= 0 && y < h ? image + y * w : nil, width: w, even: even + r * n, odd: odd + r * n, count: n)
                }
                // Bᵀ d on the even and on the odd columns.
                for half in 0..<2 {
                    let from = even + 4 * half * n, to = combinedEven + 4 * half * n
                    let l0 = from, l1 = from + n, l2 = from + 2 * n, l3 = from + 3 * n
                    Lanes.map(n, to, l0, l2) { $0 - $1 }
                    Lanes.map(n, to + n, l1, l2) { $0 + $1 }
                    Lanes.map(n, to + 2 * n, l2, l1) { $0 - $1 }
                    Lanes.map(n, to + 3 * n, l1, l3) { $0 - $1 }
                }
                // (Bᵀ d) B: four outputs per combined line, each contiguous over the tiles.
                let first = c * tiles + (ty - rows.lowerBound) * across
                for i in 0..<4 {
                    let e = combinedEven + i * n, o = combinedOdd + i * n, e1 = e + 1, o1 = o + 1
                    let d0 = v + 4 * i * plane + first, d1 = d0 + plane, d2 = d1 + plane, d3 = d2 + plane
                    Lanes.map(across, d0, e, e1) { $0 - $1 }
                    Lanes.map(across, d1, o, e1) { $0 + $1 }
                    Lanes.map(across, d2, e1, o) { $0 - $1 }
                    Lanes.map(across, d3, o, o1) { $0 - $1 }
                }
            }
        }
    }

    /// The zero-padded line (column −1 … 2·n − 2 of `line`, or zeros when nil) split into
    /// its even columns, `even[k]` = line[2k − 1], and odd ones, `odd[k]` = line[2k].
    @inline(__always)
    static func split(_ line: UnsafePointer<Float>?, width w: Int, even: UnsafeMutablePointer<Float>,
                      odd: UnsafeMutablePointer<Float>, count n: Int) {
        guard let line else {
            even.update(repeating: 0, count: n)
            odd.update(repeating: 0, count: n)
            return
        }
        even[0] = 0
        var k = 0
        while 2 * k + 8 <= w {
            let pixels = Lanes.load8(line + 2 * k)
            Lanes.store(pixels.evenHalf, odd + k)
            Lanes.store(pixels.oddHalf, even + k + 1)
            k += 4
        }
        while 2 * k < w {
            odd[k] = line[2 * k]
            if 2 * k + 1 < w { even[k + 1] = line[2 * k + 1] }
            k += 1
        }
        for j in ((w + 1) / 2)..<n { odd[j] = 0 }
        for j in (w / 2 + 1)..<n { even[j] = 0 }
    }

    /// out[o, 2ty + a, 2tx + b] = (Aᵀ M A)[a, b] (+ bias[o]) for the tiles of tile rows
    /// `rows`, from `m` laid out `[16 × O × tiles]` (rows `rowStride` apart if given, planes
    /// `planeStride`); a tile row at a time, as runs over its tiles.
    public static func transformOutput(_ m: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                       tileRows rows: Range<Int>, bias: UnsafePointer<Float>?,
                                       lines sums: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>,
                                       rowStride: Int? = nil, planeStride: Int? = nil) {
        let across = (w + 1) / 2, tiles = rowStride ?? rows.count * across, plane = planeStride ?? channels * tiles
        let pairs = w / 2
        for o in 0..<channels {
            let b = bias?[o] ?? 0, image = out + o * h * w
            for ty in rows {
                let first = o * tiles + (ty - rows.lowerBound) * across
                // Aᵀ M: rows s0 = m0 + m1 + m2 and s1 = m1 − m2 − m3, for each column j.
                for j in 0..<4 {
                    let m0 = m + j * plane + first, m1 = m0 + 4 * plane, m2 = m1 + 4 * plane, m3 = m2 + 4 * plane
                    Lanes.map(across, sums + j * across, m0, m1, m2) { $0 + $1 + $2 }
                    Lanes.map(across, sums + (4 + j) * across, m1, m2, m3) { $0 - $1 - $2 }
                }
                // · A: the two output columns of each tile, interleaved.
                for a in 0..<2 where 2 * ty + a < h {
                    let s = sums + 4 * a * across, line = image + (2 * ty + a) * w
                    let c0 = s, c1 = s + across, c2 = s + 2 * across, c3 = s + 3 * across
                    var tx = 0
                    while tx + 4 <= pairs {
                        let l0 = Lanes.load4(c0 + tx), l1 = Lanes.load4(c1 + tx), l2 = Lanes.load4(c2 + tx), l3 = Lanes.load4(c3 + tx)
                        var both = SIMD8<Float>()
                        both.evenHalf = l0 + l1 + l2 + b
                        both.oddHalf = l1 - l2 - l3 + b
                        Lanes.store(both, line + 2 * tx)
                        tx += 4
                    }
                    while tx < pairs {
                        line[2 * tx] = c0[tx] + c1[tx] + c2[tx] + b
                        line[2 * tx + 1] = c1[tx] - c2[tx] - c3[tx] + b
                        tx += 1
                    }
                    if w % 2 == 1 { line[w - 1] = c0[pairs] + c1[pairs] + c2[pairs] + b }
                }
            }
        }
    }
}
