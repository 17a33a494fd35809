/// Winograd's F(4×4, 3×3) for 3×3 convolutions of stride 1 and padding 1 (Lavin & Gray,
/// 2016, points 0, ±1, ±2): each 4×4 output tile is Aᵀ[Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)]A over the
/// 6×6 input patch d, so the channel sums are 36 GEMMs with 4× fewer multiply-adds than
/// im2col's one (F(2×2)'s 16 have 2.25× fewer). The price: U is 36/9 of the kernel's
/// values (16/9 for F(2×2)), and the transforms scale by up to 5 and 8, so results are
/// a few times further from the direct sum than F(2×2)'s. `UNet2D` uses it where the
/// GEMMs are widest (`Program.Conv.winogradF4Positions`). Images are channel-major;
/// tiles are numbered row by row (⌈W/4⌉ per row).
public enum WinogradF4 {
    /// Floats of line scratch the transforms of an image `width` wide need.
    public static func lineFloats(width w: Int) -> Int { 48 * ((w + 3) / 4 + 1) }

    /// U = G g Gᵀ of `[out × in × 3 × 3]` weights, laid out `[36 × out × in]` (U_ξ for
    /// ξ = 6i + j), computed in Float64.
    public static func transformWeights(_ g: [Float], outChannels: Int, inChannels: Int) -> [Float] {
        Winograd.transformWeights(g, outChannels: outChannels, inChannels: inChannels,
                                  G: [[1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                                      [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1]])
    }

    /// Bᵀ's six rows applied to d0…d5 (floats or vectors of them).
    @inline(__always)
    static func inputRows<V: SIMD>(_ d0: V, _ d1: V, _ d2: V, _ d3: V, _ d4: V, _ d5: V)
        -> (V, V, V, V, V, V) where V.Scalar == Float {
        let d42 = d4 - d2, d31 = d3 - d1
        return (d42 + 4 * (d0 - d2), (d3 + d4) - 4 * (d1 + d2), (d4 - d3) + 4 * (d1 - d2),
                d42 + 2 * d31, d42 - 2 * d31, (d5 - d3) + 4 * (d1 - d3))
    }

    /// `inputRows` over runs: for t < count, out[j · stride + t] = row j of
    /// (a0[t], …, a5[t]), eight values at a time, then four, then one by one (as
    /// one-lane vectors, so every value gets the same operations).
    @inline(__always)
    static func inputRows(_ count: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ a2: UnsafePointer<Float>,
                          _ a3: UnsafePointer<Float>, _ a4: UnsafePointer<Float>, _ a5: UnsafePointer<Float>,
                          _ out: UnsafeMutablePointer<Float>, stride: Int) {
        @inline(__always) func run<V: SIMD>(_: V.Type, _ t: Int) where V.Scalar == Float {
            let r = inputRows(Lanes.load(V.self, a0 + t), Lanes.load(V.self, a1 + t), Lanes.load(V.self, a2 + t),
                              Lanes.load(V.self, a3 + t), Lanes.load(V.self, a4 + t), Lanes.load(V.self, a5 + t))
            Lanes.store(r.0, out + t); Lanes.store(r.1, out + stride + t); Lanes.store(r.2, out + 2 * stride + t)
            Lanes.store(r.3, out + 3 * stride + t); Lanes.store(r.4, out + 4 * stride + t)
            Lanes.store(r.5, out + 5 * stride + t)
        }
        var t = 0
        while t + 8 <= count { run(SIMD8<Float>.self, t); t += 8 }
        if t + 4 <= count { run(SIMD4<Float>.self, t); t += 4 }
        while t < count {
            let r = inputRows(SIMD2(a0[t], 0), SIMD2(a1[t], 0), SIMD2(a2[t], 0), SIMD2(a3[t], 0), SIMD2(a4[t], 0),
                              SIMD2(a5[t], 0))
            out[t] = r.0[0]; out[stride + t] = r.1[0]; out[2 * stride + t] = r.2[0]
            out[3 * stride + t] = r.3[0]; out[4 * stride + t] = r.4[0]; out[5 * stride + t] = r.5[0]
            t += 1
        }
    }

    /// V_ξ[c, tile] = (Bᵀ d B)_ξ for the tiles of tile rows `rows` (padding 1 around the
    /// image), into `v` laid out `[36 × C × tiles]` with `tiles = rows.count · ⌈W/4⌉` (or
    /// `rowStride`). Row by row: each of the six input lines of a tile row, zero-padded,
    /// is split into its four column phases (Q_k[t] = d[4t + k − 1]: a tile's six columns
    /// are Q0…Q3[t], Q0[t + 1], Q1[t + 1]); Bᵀ combines the lines, phase by phase; then
    /// each combined line gives the six values of its row of Bᵀ d B as runs over the
    /// row's tiles. Every loop runs over tiles. `lines` is scratch of `lineFloats(width:)`.
    public static func transformInput(_ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                      tileRows rows: Range<Int>, lines: UnsafeMutablePointer<Float>,
                                      into v: UnsafeMutablePointer<Float>, rowStride: Int? = nil) {
        let across = (w + 3) / 4, tiles = rowStride ?? rows.count * across, plane = channels * tiles
        let n = across + 1
        // phases[(r · 4 + k) · n + t]: line r's phase k; combined[(i · 4 + k) · n + t]: Bᵀ row i.
        let phases = lines, combined = lines + 24 * n
        for c in 0..<channels {
            let image = x + c * h * w
            for ty in rows {
                for r in 0..<6 {
                    let y = 4 * ty - 1 + r
                    let q = phases + 4 * r * n
                    guard y >= 0 && y < h else {
                        q.update(repeating: 0, count: 4 * n)
                        continue
                    }
                    // Q_k[t] = d[4t + k − 1], zero outside the line; four tiles (16 values) at a time
                    // where they lie inside it, read in place (a padded copy read back at once
                    // stalled on store forwarding: a fifth of this function's time).
                    let line = image + y * w
                    var t = 0
                    while t < n {
                        if t >= 1 && 4 * t + 15 <= w && t + 4 <= n {
                            let p = line + 4 * t - 1
                            let a = Lanes.load8(p), b = Lanes.load8(p + 8)
                            let evens = SIMD8(lowHalf: a.evenHalf, highHalf: b.evenHalf)
                            let odds = SIMD8(lowHalf: a.oddHalf, highHalf: b.oddHalf)
                            Lanes.store(evens.evenHalf, q + t); Lanes.store(odds.evenHalf, q + n + t)
                            Lanes.store(evens.oddHalf, q + 2 * n + t); Lanes.store(odds.oddHalf, q + 3 * n + t)
                            t += 4
                        } else {
                            for k in 0..<4 {
                                let i = 4 * t + k - 1
                                q[k * n + t] = i >= 0 && i < w ? line[i] : 0
                            }
                            t += 1
                        }
                    }
                }
                // Bᵀ d, each phase: combined row i = Bᵀ[i] · (lines 0…5).
                for k in 0..<4 {
                    let l0 = phases + k * n, step = 4 * n
                    inputRows(n, l0, l0 + step, l0 + 2 * step, l0 + 3 * step, l0 + 4 * step, l0 + 5 * step,
                              combined + k * n, stride: 4 * n)
                }
                // (Bᵀ d) B: row i's six values, each contiguous over the tiles.
                let first = c * tiles + (ty - rows.lowerBound) * across
                for i in 0..<6 {
                    let e0 = combined + 4 * i * n, e1 = e0 + n, e2 = e1 + n, e3 = e2 + n
                    inputRows(across, e0, e1, e2, e3, e0 + 1, e1 + 1, v + 6 * i * plane + first, stride: plane)
                }
            }
        }
    }

    /// Aᵀ's four rows applied to m0…m5 (floats or vectors of them).
    @inline(__always)
    static func outputRows<V: SIMD>(_ m0: V, _ m1: V, _ m2: V, _ m3: V, _ m4: V, _ m5: V)
        -> (V, V, V, V) where V.Scalar == Float {
        let p12 = m1 + m2, m12 = m1 - m2, p34 = m3 + m4, m34 = m3 - m4
        return (m0 + p12 + p34, m12 + 2 * m34, p12 + 4 * p34, m12 + 8 * m34 + m5)
    }

    /// out[o, 4ty + a, 4tx + b] = (Aᵀ M A)[a, b] (+ bias[o]) for the tiles of tile rows
    /// `rows`, from `m` laid out `[36 × O × tiles]` (rows `rowStride` apart if given); a
    /// tile row at a time, as runs over its tiles. `sums` is scratch of `lineFloats(width:)`.
    public static func transformOutput(_ m: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                       tileRows rows: Range<Int>, bias: UnsafePointer<Float>?,
                                       lines sums: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>,
                                       rowStride: Int? = nil) {
        let across = (w + 3) / 4, tiles = rowStride ?? rows.count * across, plane = channels * tiles
        let full = w / 4
        for o in 0..<channels {
            let b = bias?[o] ?? 0, image = out + o * h * w
            for ty in rows {
                let first = o * tiles + (ty - rows.lowerBound) * across
                // Aᵀ M: sums[(a · 6 + j) · across + t] for output row a, column j.
                for j in 0..<6 {
                    let m0 = m + j * plane + first, step = 6 * plane
                    let s = sums + j * across, sStep = 6 * across
                    @inline(__always) func run<V: SIMD>(_: V.Type, _ t: Int) where V.Scalar == Float {
                        let r = outputRows(Lanes.load(V.self, m0 + t), Lanes.load(V.self, m0 + step + t),
                                           Lanes.load(V.self, m0 + 2 * step + t), Lanes.load(V.self, m0 + 3 * step + t),
                                           Lanes.load(V.self, m0 + 4 * step + t), Lanes.load(V.self, m0 + 5 * step + t))
                        Lanes.store(r.0, s + t); Lanes.store(r.1, s + sStep + t)
                        Lanes.store(r.2, s + 2 * sStep + t); Lanes.store(r.3, s + 3 * sStep + t)
                    }
                    var t = 0
                    while t + 8 <= across { run(SIMD8<Float>.self, t); t += 8 }
                    if t + 4 <= across { run(SIMD4<Float>.self, t); t += 4 }
                    while t < across {
                        let r = outputRows(SIMD2(m0[t], 0), SIMD2(m0[step + t], 0), SIMD2(m0[2 * step + t], 0),
                                           SIMD2(m0[3 * step + t], 0), SIMD2(m0[4 * step + t], 0), SIMD2(m0[5 * step + t], 0))
                        s[t] = r.0[0]; s[sStep + t] = r.1[0]; s[2 * sStep + t] = r.2[0]; s[3 * sStep + t] = r.3[0]
                        t += 1
                    }
                }
                // · A: a tile's four output columns side by side.
                for a in 0..<4 where 4 * ty + a < h {
                    let s = sums + 6 * a * across, line = image + (4 * ty + a) * w
                    let c0 = s, c1 = s + across, c2 = s + 2 * across, c3 = s + 3 * across
                    let c4 = s + 4 * across, c5 = s + 5 * across
                    @inline(__always) func tile(_ t: Int) -> SIMD4<Float> {
                        let r = outputRows(SIMD2(c0[t], 0), SIMD2(c1[t], 0), SIMD2(c2[t], 0), SIMD2(c3[t], 0),
                                           SIMD2(c4[t], 0), SIMD2(c5[t], 0))
                        return SIMD4(r.0[0], r.1[0], r.2[0], r.3[0]) + b
                    }
                    for t in 0..<full { Lanes.store(tile(t), line + 4 * t) }
                    if full < across {
                        let last = tile(full)
                        for l in 0..<(w - 4 * full) { line[4 * full + l] = last[l] }
                    }
                }
            }
        }
    }
}
