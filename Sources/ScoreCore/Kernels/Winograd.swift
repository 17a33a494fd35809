/// Winograd's F(2×2, 3×3) for 3×3 convolutions of stride 1 and padding 1 (Lavin & Gray,
/// "Fast Algorithms for Convolutional Neural Networks", 2016): each 2×2 output tile is
/// Aᵀ[Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)]A over the 4×4 input patch d, so the channel sums are 16
/// GEMMs `M_ξ = U_ξ V_ξ` with 2.25× fewer multiply-adds than im2col's one. The
/// transforms only add and halve, so results stay within a few ulp of the direct sum.
/// Images are channel-major; tiles are numbered row by row (⌈W/2⌉ per row).
public enum Winograd {
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
    public static func transformInput(_ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                      tileRows rows: Range<Int>, into v: UnsafeMutablePointer<Float>) {
        let across = (w + 1) / 2, tiles = rows.count * across, plane = channels * tiles
        for c in 0..<channels {
            let image = x + c * h * w
            for ty in rows {
                for tx in 0..<across {
                    // The 4×4 patch at rows 2ty − 1 … 2ty + 2, columns 2tx − 1 … 2tx + 2.
                    func row(_ r: Int) -> SIMD4<Float> {
                        let y = 2 * ty - 1 + r
                        guard y >= 0 && y < h else { return SIMD4() }
                        let line = image + y * w, x0 = 2 * tx - 1
                        if x0 >= 0 && x0 + 3 < w { return SIMD4(line[x0], line[x0 + 1], line[x0 + 2], line[x0 + 3]) }
                        var out = SIMD4<Float>()
                        for k in 0..<4 where x0 + k >= 0 && x0 + k < w { out[k] = line[x0 + k] }
                        return out
                    }
                    let d0 = row(0), d1 = row(1), d2 = row(2), d3 = row(3)
                    // Bᵀ d: combine rows.
                    let r0 = d0 - d2, r1 = d1 + d2, r2 = d2 - d1, r3 = d1 - d3
                    // (Bᵀ d) B: combine columns of each row.
                    let tile = (ty - rows.lowerBound) * across + tx
                    let base = v + c * tiles + tile
                    func put(_ i: Int, _ r: SIMD4<Float>) {
                        base[(4 * i) * plane] = r[0] - r[2]
                        base[(4 * i + 1) * plane] = r[1] + r[2]
                        base[(4 * i + 2) * plane] = r[2] - r[1]
                        base[(4 * i + 3) * plane] = r[1] - r[3]
                    }
                    put(0, r0)
                    put(1, r1)
                    put(2, r2)
                    put(3, r3)
                }
            }
        }
    }

    /// out[o, 2ty + a, 2tx + b] = (Aᵀ M A)[a, b] (+ bias[o]) for the tiles of tile rows
    /// `rows`, from `m` laid out `[16 × O × tiles]`.
    public static func transformOutput(_ m: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                       tileRows rows: Range<Int>, bias: UnsafePointer<Float>?,
                                       into out: UnsafeMutablePointer<Float>) {
        let across = (w + 1) / 2, tiles = rows.count * across, plane = channels * tiles
        for o in 0..<channels {
            let b = bias?[o] ?? 0, image = out + o * h * w
            for ty in rows {
                for tx in 0..<across {
                    let base = m + o * tiles + (ty - rows.lowerBound) * across + tx
                    func row(_ i: Int) -> SIMD4<Float> {
                        SIMD4(base[(4 * i) * plane], base[(4 * i + 1) * plane], base[(4 * i + 2) * plane],
                              base[(4 * i + 3) * plane])
                    }
                    let m0 = row(0), m1 = row(1), m2 = row(2), m3 = row(3)
                    // Aᵀ M: two rows; then · A: two columns.
                    let s0 = m0 + m1 + m2, s1 = m1 - m2 - m3
                    let y = 2 * ty, x = 2 * tx
                    image[y * w + x] = s0[0] + s0[1] + s0[2] + b
                    if x + 1 < w { image[y * w + x + 1] = s0[1] - s0[2] - s0[3] + b }
                    if y + 1 < h {
                        image[(y + 1) * w + x] = s1[0] + s1[1] + s1[2] + b
                        if x + 1 < w { image[(y + 1) * w + x + 1] = s1[1] - s1[2] - s1[3] + b }
                    }
                }
            }
        }
    }
}
