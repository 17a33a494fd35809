/// Winograd's F(2×2, 3×3) for 3×3 convolutions of stride 1 and padding 1 (Lavin & Gray,
/// "Fast Algorithms for Convolutional Neural Networks", 2016): each 2×2 output tile is
/// Aᵀ[Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)]A over the 4×4 input patch d, so the channel sums are 16
/// GEMMs `M_ξ = U_ξ V_ξ` with 2.25× fewer multiply-adds than im2col's one. The
/// transforms only add and halve, so results stay within a few ulp of the direct sum.
/// Images are channel-major; tiles are numbered row by row (⌈W/2⌉ per row).
public enum Winograd {
    /// Floats of line scratch the transforms of an image `width` wide need.
    public static func lineFloats(width w: Int) -> Int { 8 * ((w + 1) / 2 * 2 + 2) }

    /// U = G g Gᵀ of `[out × in × 3 × 3]` weights, laid out `[16 × out × in]` (U_ξ for
    /// ξ = 4i + j), computed in Float64.
    public static func transformWeights(_ g: [Float], outChannels: Int, inChannels: Int) -> [Float] {
        var u = [Float](repeating: 0, count: 16 * outChannels * inChannels)
        let G: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        for o in 0..<outChannels {
            for c in 0..<inChannels {
                let kernel = (o * inChannels + c) * 9
                for i in 0..<4 {
                    for j in 0..<4 {
                        var sum = 0.0
                        for a in 0..<3 { for b in 0..<3 { sum += G[i][a] * Double(g[kernel + a * 3 + b]) * G[j][b] } }
                        u[((4 * i + j) * outChannels + o) * inChannels + c] = Float(sum)
                    }
                }
            }
        }
        return u
    }

    /// V_ξ[c, tile] = (Bᵀ d B)_ξ for the tiles of tile rows `rows` (padding 1 around the
    /// image), into `v` laid out `[16 × C × tiles]` with `tiles = rows.count · ⌈W/2⌉`.
    /// Row by row: the four input lines of a tile row (zero-padded), their Bᵀ
    /// combinations over the whole line, then each of the 16 outputs as a contiguous run
    /// over the row's tiles, so every loop is a vector loop.
    /// `lines` is scratch of `lineFloats(width:)`.
    public static func transformInput(_ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                      tileRows rows: Range<Int>, lines: UnsafeMutablePointer<Float>,
                                      into v: UnsafeMutablePointer<Float>) {
        let across = (w + 1) / 2, tiles = rows.count * across, plane = channels * tiles
        let padded = 2 * across + 2   // columns −1 … 2·across
        let combined = lines + 4 * padded
        for c in 0..<channels {
            let image = x + c * h * w
            for ty in rows {
                for r in 0..<4 {
                    let line = lines + r * padded, y = 2 * ty - 1 + r
                    guard y >= 0 && y < h else {
                        line.update(repeating: 0, count: padded)
                        continue
                    }
                    line[0] = 0
                    (line + 1).update(from: image + y * w, count: w)
                    (line + 1 + w).update(repeating: 0, count: padded - 1 - w)
                }
                // Bᵀ d, a whole line at a time.
                let l0 = lines, l1 = lines + padded, l2 = lines + 2 * padded, l3 = lines + 3 * padded
                for k in 0..<padded {
                    combined[k] = l0[k] - l2[k]
                    combined[padded + k] = l1[k] + l2[k]
                    combined[2 * padded + k] = l2[k] - l1[k]
                    combined[3 * padded + k] = l1[k] - l3[k]
                }
                // (Bᵀ d) B: four outputs per combined line, each contiguous over the tiles.
                let first = c * tiles + (ty - rows.lowerBound) * across
                for i in 0..<4 {
                    let r = combined + i * padded
                    let d0 = v + 4 * i * plane + first, d1 = d0 + plane, d2 = d1 + plane, d3 = d2 + plane
                    for tx in 0..<across {
                        let a0 = r[2 * tx], a1 = r[2 * tx + 1], a2 = r[2 * tx + 2], a3 = r[2 * tx + 3]
                        d0[tx] = a0 - a2
                        d1[tx] = a1 + a2
                        d2[tx] = a2 - a1
                        d3[tx] = a1 - a3
                    }
                }
            }
        }
    }

    /// out[o, 2ty + a, 2tx + b] = (Aᵀ M A)[a, b] (+ bias[o]) for the tiles of tile rows
    /// `rows`, from `m` laid out `[16 × O × tiles]`; a tile row at a time, as runs over
    /// its tiles.
    public static func transformOutput(_ m: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                       tileRows rows: Range<Int>, bias: UnsafePointer<Float>?,
                                       lines sums: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let across = (w + 1) / 2, tiles = rows.count * across, plane = channels * tiles, pairs = w / 2
        for o in 0..<channels {
            let b = bias?[o] ?? 0, image = out + o * h * w
            for ty in rows {
                let first = o * tiles + (ty - rows.lowerBound) * across
                // Aᵀ M: rows s0 = m0 + m1 + m2 and s1 = m1 − m2 − m3, for each column j.
                for j in 0..<4 {
                    let m0 = m + j * plane + first, m1 = m0 + 4 * plane, m2 = m1 + 4 * plane, m3 = m2 + 4 * plane
                    let s0 = sums + j * across, s1 = sums + (4 + j) * across
                    for tx in 0..<across {
                        s0[tx] = m0[tx] + m1[tx] + m2[tx]
                        s1[tx] = m1[tx] - m2[tx] - m3[tx]
                    }
                }
                // · A: the two output columns of each tile.
                for a in 0..<2 where 2 * ty + a < h {
                    let s = sums + 4 * a * across, line = image + (2 * ty + a) * w
                    let c0 = s, c1 = s + across, c2 = s + 2 * across, c3 = s + 3 * across
                    for tx in 0..<pairs {
                        line[2 * tx] = c0[tx] + c1[tx] + c2[tx] + b
                        line[2 * tx + 1] = c1[tx] - c2[tx] - c3[tx] + b
                    }
                    if w % 2 == 1 { line[w - 1] = c0[pairs] + c1[pairs] + c2[pairs] + b }
                }
            }
        }
    }
}
