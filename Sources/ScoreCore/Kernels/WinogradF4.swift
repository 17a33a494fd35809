/// Winograd's F(4×4, 3×3) for 3×3 convolutions of stride 1 and padding 1 (Lavin & Gray,
/// 2016, points 0, ±1, ±2): each 4×4 output tile is Aᵀ[Σ_c (G g Gᵀ) ⊙ (Bᵀ d B)]A over the
/// 6×6 input patch d, so the channel sums are 36 GEMMs with 4× fewer multiply-adds than
/// im2col's one (F(2×2)'s 16 have 2.25× fewer). The price: U is 36/9 of the kernel's
/// values (16/9 for F(2×2)), and the transforms scale by up to 5 and 8, so results are
/// a few times further from the direct sum than F(2×2)'s. `UNet2D` uses it where the
/// GEMMs are widest (`Program.Conv.winogradF4Positions`). Images are channel-major;
/// tiles are numbered row by row (⌈W/4⌉ per row).
///
/// The transforms run over tiles, eight (four on narrow images) to a vector, and write
/// V and read M plane by plane: 36 planes `plane` floats apart. When that stride is a
/// multiple of 4 KiB, the planes' lines share L1 sets and the stores alias the loads:
/// both transforms took 3–4× longer (`Program.Conv.planeStride` pads it).
public enum WinogradF4 {
    /// Floats of line scratch the transforms of an image `width` wide need.
    public static func lineFloats(width w: Int) -> Int {
        let across = (w + 3) / 4, split = splitLanes(across), padded = 4 * split * ((across + split - 1) / split)
        let rows = groupRows(across)
        return Swift.max(rows * 6 * padded + 24 * phaseRun(across) + w, 64 * outputLanes(across))
    }

    /// Tile rows the input transform takes at once: at least 32 tiles, so that its runs
    /// are long and its scratch is written well before it is read back.
    static func groupRows(_ across: Int) -> Int { Swift.max(1, (32 + across - 1) / across) }
    /// Tiles a phase split yields at once.
    static func splitLanes(_ across: Int) -> Int { across % 8 == 0 ? 8 : 4 }
    /// Floats of one phase of one line over a group: a zero, its values, slack.
    static func phaseRun(_ across: Int) -> Int { groupRows(across) * across + splitLanes(across) + 16 }
    /// Tiles the output transform takes at once.
    static func outputLanes(_ across: Int) -> Int { across >= 8 ? 8 : 4 }

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
    /// `rowStride`), planes `planeStride` apart (default C · tiles). For a group of tile
    /// rows at a time, in three passes through `lines` (scratch of `lineFloats(width:)`),
    /// each written whole before the next reads it:
    /// 1. Bᵀ combines each tile row's six input lines (zero outside the image), column by column;
    /// 2. each combined line is split into its four column phases, Q_k[t] = e[4t + k], laid
    ///    end to end over the group's tile rows;
    /// 3. a tile's six columns are Q3[t − 1], Q0…Q3[t], Q0[t + 1] (zero past its row's ends),
    ///    so row i of (Bᵀ d) B is `inputRows` over runs of eight tiles, straight into V.
    public static func transformInput(_ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                      tileRows rows: Range<Int>, lines: UnsafeMutablePointer<Float>,
                                      into v: UnsafeMutablePointer<Float>, rowStride: Int? = nil,
                                      planeStride: Int? = nil) {
        if splitLanes((w + 3) / 4) == 8 {
            transformInput(SIMD8<Float>.self, x, channels: channels, height: h, width: w, tileRows: rows, lines: lines,
                           into: v, rowStride: rowStride, planeStride: planeStride)
        } else {
            transformInput(SIMD4<Float>.self, x, channels: channels, height: h, width: w, tileRows: rows, lines: lines,
                           into: v, rowStride: rowStride, planeStride: planeStride)
        }
    }

    /// `transformInput` with phase splits of `P`'s width.
    @inline(__always)
    private static func transformInput<P: TileLanes>(_: P.Type, _ x: UnsafePointer<Float>, channels: Int, height h: Int,
                                                     width w: Int, tileRows rows: Range<Int>,
                                                     lines: UnsafeMutablePointer<Float>, into v: UnsafeMutablePointer<Float>,
                                                     rowStride: Int?, planeStride: Int?) {
        typealias V = SIMD8<Float>
        let across = (w + 3) / 4, tiles = rowStride ?? rows.count * across, plane = planeStride ?? channels * tiles
        let split = P.scalarCount, splits = (across + split - 1) / split, padded = 4 * split * splits
        let group = groupRows(across), run = phaseRun(across)
        // combined[(g · 6 + i) · padded + x]: Bᵀ row i of tile row g's lines, zero from w on.
        // phases[(i · 4 + k) · run + 1 + g · across + t]: its phase k.
        let combined = lines, phases = lines + group * 6 * padded, zero = phases + 24 * run
        combined.update(repeating: 0, count: group * 6 * padded)
        phases.update(repeating: 0, count: 24 * run)
        zero.update(repeating: 0, count: w)
        // masks[2u], masks[2u + 1]: run u's lanes that start (end) a tile row cleared, for the
        // zero padding left (right) of the image.
        let vectors = (group * across + 7) / 8
        withUnsafeTemporaryAllocation(of: SIMD8<UInt32>.self, capacity: 2 * vectors) { buffer in
            let masks = buffer.baseAddress!
            for u in 0..<vectors {
                var left = SIMD8<UInt32>(repeating: ~0), right = left
                for k in 0..<8 {
                    let t = (8 * u + k) % across
                    if t == 0 { left[k] = 0 }
                    if t == across - 1 { right[k] = 0 }
                }
                masks[2 * u] = left
                masks[2 * u + 1] = right
            }
            for c in 0..<channels {
                let image = x + c * h * w
                var top = rows.lowerBound
                while top < rows.upperBound {
                    let count = Swift.min(group, rows.upperBound - top), total = count * across
                    for g in 0..<count {
                        let y0 = 4 * (top + g) - 1
                        @inline(__always) func line(_ r: Int) -> UnsafePointer<Float> {
                            y0 + r >= 0 && y0 + r < h ? image + (y0 + r) * w : UnsafePointer(zero)
                        }
                        inputRows(w, line(0), line(1), line(2), line(3), line(4), line(5), combined + g * 6 * padded,
                                  stride: padded)
                    }
                    for g in 0..<count {
                        for i in 0..<6 {
                            let e = combined + (g * 6 + i) * padded, q = phases + i * 4 * run + 1 + g * across
                            for b in 0..<splits {
                                let p = P.phases(e + 4 * split * b), at = q + b * split
                                Lanes.store(p.0, at); Lanes.store(p.1, at + run)
                                Lanes.store(p.2, at + 2 * run); Lanes.store(p.3, at + 3 * run)
                            }
                        }
                    }
                    let first = c * tiles + (top - rows.lowerBound) * across
                    for i in 0..<6 {
                        let q = phases + i * 4 * run + 1, out = v + 6 * i * plane + first
                        var t = 0
                        while t < total {
                            let u = t / 8
                            let c0 = Lanes.load(V.self, q + 3 * run + t - 1).masked(masks[2 * u])
                            let c5 = Lanes.load(V.self, q + t + 1).masked(masks[2 * u + 1])
                            let r = inputRows(c0, Lanes.load(V.self, q + t), Lanes.load(V.self, q + run + t),
                                              Lanes.load(V.self, q + 2 * run + t), Lanes.load(V.self, q + 3 * run + t), c5)
                            let o = out + t, n = Swift.min(8, total - t)
                            Lanes.store(r.0, o, n); Lanes.store(r.1, o + plane, n); Lanes.store(r.2, o + 2 * plane, n)
                            Lanes.store(r.3, o + 3 * plane, n); Lanes.store(r.4, o + 4 * plane, n)
                            Lanes.store(r.5, o + 5 * plane, n)
                            t += 8
                        }
                    }
                    top += count
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
    /// `rows`, from `m` laid out `[36 × O × tiles]` (rows `rowStride` apart if given, planes
    /// `planeStride`); a run of eight (four) tiles of a tile row at a time: Aᵀ over each of
    /// the six columns, then · A, whose four columns are interleaved into the output lines.
    /// `lines` is scratch of `lineFloats(width:)`.
    public static func transformOutput(_ m: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                       tileRows rows: Range<Int>, bias: UnsafePointer<Float>?,
                                       lines: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>,
                                       rowStride: Int? = nil, planeStride: Int? = nil) {
        if outputLanes((w + 3) / 4) == 8 {
            transformOutput(SIMD8<Float>.self, m, channels: channels, height: h, width: w, tileRows: rows, bias: bias,
                            lines: lines, into: out, rowStride: rowStride, planeStride: planeStride)
        } else {
            transformOutput(SIMD4<Float>.self, m, channels: channels, height: h, width: w, tileRows: rows, bias: bias,
                            lines: lines, into: out, rowStride: rowStride, planeStride: planeStride)
        }
    }

    @inline(__always)
    private static func transformOutput<V: TileLanes>(_: V.Type, _ m: UnsafePointer<Float>, channels: Int, height h: Int,
                                                      width w: Int, tileRows rows: Range<Int>, bias: UnsafePointer<Float>?,
                                                      lines: UnsafeMutablePointer<Float>,
                                                      into out: UnsafeMutablePointer<Float>, rowStride: Int?,
                                                      planeStride: Int?) {
        let across = (w + 3) / 4, tiles = rowStride ?? rows.count * across, plane = planeStride ?? channels * tiles
        let l = V.scalarCount, runs = (across + l - 1) / l
        // sums[(a · 6 + j) · l]: row a of Aᵀ M's column j; gathered: a last short run's
        // 36 vectors, zero-padded; tail: a last short run's output line.
        let sums = lines, gathered = lines + 24 * l, tail = gathered + 36 * l
        for o in 0..<channels {
            let b = V(repeating: bias?[o] ?? 0), image = out + o * h * w
            for ty in rows {
                let first = o * tiles + (ty - rows.lowerBound) * across
                for r in 0..<runs {
                    let t0 = r * l, count = Swift.min(l, across - t0)
                    var src = m + first + t0, step = plane
                    if count < l {
                        for xi in 0..<36 { for k in 0..<l { gathered[xi * l + k] = k < count ? src[xi * plane + k] : 0 } }
                        src = UnsafePointer(gathered)
                        step = l
                    }
                    for j in 0..<6 {
                        let p = src + j * step
                        let s = outputRows(Lanes.load(V.self, p), Lanes.load(V.self, p + 6 * step),
                                           Lanes.load(V.self, p + 12 * step), Lanes.load(V.self, p + 18 * step),
                                           Lanes.load(V.self, p + 24 * step), Lanes.load(V.self, p + 30 * step))
                        Lanes.store(s.0, sums + j * l); Lanes.store(s.1, sums + (6 + j) * l)
                        Lanes.store(s.2, sums + (12 + j) * l); Lanes.store(s.3, sums + (18 + j) * l)
                    }
                    for a in 0..<4 where 4 * ty + a < h {
                        let q = sums + 6 * a * l
                        let c = outputRows(Lanes.load(V.self, q), Lanes.load(V.self, q + l), Lanes.load(V.self, q + 2 * l),
                                           Lanes.load(V.self, q + 3 * l), Lanes.load(V.self, q + 4 * l),
                                           Lanes.load(V.self, q + 5 * l))
                        let line = image + (4 * ty + a) * w + 4 * t0
                        if 4 * (t0 + l) <= w {
                            V.interleave(c.0 + b, c.1 + b, c.2 + b, c.3 + b, into: line)
                        } else {
                            V.interleave(c.0 + b, c.1 + b, c.2 + b, c.3 + b, into: tail)
                            line.update(from: tail, count: w - 4 * t0)
                        }
                    }
                }
            }
        }
    }
}
