/// The register blocks both GEMMs are made of. B is a packed panel of 16 (or 8) columns,
/// `[k × 16]`: its 16 values of row q side by side. Every output is one chain of fused
/// multiply-adds over q in order, started from 0 or from C's value (`accumulate`), so
/// each block computes an output exactly as every other block does.
enum Microkernels {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func start(_ p: UnsafeMutablePointer<Float>, _ accumulate: Bool) -> SIMD8<Float> {
        accumulate ? UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) : .zero
    }

    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// 4 rows × 16 columns of a packed `[k × 16]` panel.
    static func block4x16(_ a: UnsafePointer<Float>, lda: Int, _ p: UnsafePointer<Float>, k: Int,
                                  _ c: UnsafeMutablePointer<Float>, ldc: Int, _ accumulate: Bool) {
        let c0 = c, c1 = c + ldc, c2 = c + 2 * ldc, c3 = c + 3 * ldc
        var s00 = start(c0, accumulate), s01 = start(c0 + 8, accumulate)
        var s10 = start(c1, accumulate), s11 = start(c1 + 8, accumulate)
        var s20 = start(c2, accumulate), s21 = start(c2 + 8, accumulate)
        var s30 = start(c3, accumulate), s31 = start(c3 + 8, accumulate)
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        for q in 0..<k {
            let w0 = load(p + q * 16), w1 = load(p + q * 16 + 8)
            let b0 = SIMD8<Float>(repeating: a0[q]), b1 = SIMD8<Float>(repeating: a1[q])
            let b2 = SIMD8<Float>(repeating: a2[q]), b3 = SIMD8<Float>(repeating: a3[q])
            s00 = s00.addingProduct(b0, w0); s01 = s01.addingProduct(b0, w1)
            s10 = s10.addingProduct(b1, w0); s11 = s11.addingProduct(b1, w1)
            s20 = s20.addingProduct(b2, w0); s21 = s21.addingProduct(b2, w1)
            s30 = s30.addingProduct(b3, w0); s31 = s31.addingProduct(b3, w1)
        }
        store(s00, c0); store(s01, c0 + 8); store(s10, c1); store(s11, c1 + 8)
        store(s20, c2); store(s21, c2 + 8); store(s30, c3); store(s31, c3 + 8)
    }

    /// 6 rows × 16 columns: twelve accumulators, the most AVX2's sixteen registers hold
    /// beside the panel's two vectors and a broadcast (6–7% faster than 4 × 16 at these
    /// sizes: more independent chains to hide the FMA latency, fewer loads per FMA).
    static func block6x16(_ a: UnsafePointer<Float>, lda: Int, _ p: UnsafePointer<Float>, k: Int,
                          _ c: UnsafeMutablePointer<Float>, ldc: Int, _ accumulate: Bool) {
        let c0 = c, c1 = c + ldc, c2 = c + 2 * ldc, c3 = c + 3 * ldc, c4 = c + 4 * ldc, c5 = c + 5 * ldc
        var s00 = start(c0, accumulate), s01 = start(c0 + 8, accumulate)
        var s10 = start(c1, accumulate), s11 = start(c1 + 8, accumulate)
        var s20 = start(c2, accumulate), s21 = start(c2 + 8, accumulate)
        var s30 = start(c3, accumulate), s31 = start(c3 + 8, accumulate)
        var s40 = start(c4, accumulate), s41 = start(c4 + 8, accumulate)
        var s50 = start(c5, accumulate), s51 = start(c5 + 8, accumulate)
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda
        for q in 0..<k {
            let w0 = load(p + q * 16), w1 = load(p + q * 16 + 8)
            let b0 = SIMD8<Float>(repeating: a0[q]); s00 = s00.addingProduct(b0, w0); s01 = s01.addingProduct(b0, w1)
            let b1 = SIMD8<Float>(repeating: a1[q]); s10 = s10.addingProduct(b1, w0); s11 = s11.addingProduct(b1, w1)
            let b2 = SIMD8<Float>(repeating: a2[q]); s20 = s20.addingProduct(b2, w0); s21 = s21.addingProduct(b2, w1)
            let b3 = SIMD8<Float>(repeating: a3[q]); s30 = s30.addingProduct(b3, w0); s31 = s31.addingProduct(b3, w1)
            let b4 = SIMD8<Float>(repeating: a4[q]); s40 = s40.addingProduct(b4, w0); s41 = s41.addingProduct(b4, w1)
            let b5 = SIMD8<Float>(repeating: a5[q]); s50 = s50.addingProduct(b5, w0); s51 = s51.addingProduct(b5, w1)
        }
        store(s00, c0); store(s01, c0 + 8); store(s10, c1); store(s11, c1 + 8); store(s20, c2); store(s21, c2 + 8)
        store(s30, c3); store(s31, c3 + 8); store(s40, c4); store(s41, c4 + 8); store(s50, c5); store(s51, c5 + 8)
    }

    static func block1x16(_ a: UnsafePointer<Float>, _ p: UnsafePointer<Float>, k: Int,
                                  _ c: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        var s0 = start(c, accumulate), s1 = start(c + 8, accumulate)
        for q in 0..<k {
            let x = SIMD8<Float>(repeating: a[q])
            s0 = s0.addingProduct(x, load(p + q * 16)); s1 = s1.addingProduct(x, load(p + q * 16 + 8))
        }
        store(s0, c); store(s1, c + 8)
    }

    /// 8 rows × 8 columns of a packed `[k × 8]` panel: eight independent chains.
    static func block8x8(_ a: UnsafePointer<Float>, lda: Int, _ p: UnsafePointer<Float>, k: Int,
                                 _ c: UnsafeMutablePointer<Float>, ldc: Int, _ accumulate: Bool) {
        var s0 = start(c, accumulate), s1 = start(c + ldc, accumulate)
        var s2 = start(c + 2 * ldc, accumulate), s3 = start(c + 3 * ldc, accumulate)
        var s4 = start(c + 4 * ldc, accumulate), s5 = start(c + 5 * ldc, accumulate)
        var s6 = start(c + 6 * ldc, accumulate), s7 = start(c + 7 * ldc, accumulate)
        for q in 0..<k {
            let w = load(p + q * 8)
            s0 = s0.addingProduct(SIMD8(repeating: a[q]), w)
            s1 = s1.addingProduct(SIMD8(repeating: a[lda + q]), w)
            s2 = s2.addingProduct(SIMD8(repeating: a[2 * lda + q]), w)
            s3 = s3.addingProduct(SIMD8(repeating: a[3 * lda + q]), w)
            s4 = s4.addingProduct(SIMD8(repeating: a[4 * lda + q]), w)
            s5 = s5.addingProduct(SIMD8(repeating: a[5 * lda + q]), w)
            s6 = s6.addingProduct(SIMD8(repeating: a[6 * lda + q]), w)
            s7 = s7.addingProduct(SIMD8(repeating: a[7 * lda + q]), w)
        }
        store(s0, c); store(s1, c + ldc); store(s2, c + 2 * ldc); store(s3, c + 3 * ldc)
        store(s4, c + 4 * ldc); store(s5, c + 5 * ldc); store(s6, c + 6 * ldc); store(s7, c + 7 * ldc)
    }

    static func block1x8(_ a: UnsafePointer<Float>, _ p: UnsafePointer<Float>, k: Int,
                                 _ c: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        var s = start(c, accumulate)
        for q in 0..<k { s = s.addingProduct(SIMD8<Float>(repeating: a[q]), load(p + q * 8)) }
        store(s, c)
    }

    /// One row against four consecutive panels (64 outputs, panels `k · 16` apart), from
    /// C's values: eight independent chains.
    static func block1x64(_ a: UnsafePointer<Float>, _ w: UnsafePointer<Float>, k: Int,
                          _ c: UnsafeMutablePointer<Float>) {
        let stride = k * 16
        var s0 = load(c), s1 = load(c + 8), s2 = load(c + 16), s3 = load(c + 24)
        var s4 = load(c + 32), s5 = load(c + 40), s6 = load(c + 48), s7 = load(c + 56)
        for i in 0..<k {
            let b = SIMD8<Float>(repeating: a[i])
            let p = w + i * 16
            s0 = s0.addingProduct(b, load(p)); s1 = s1.addingProduct(b, load(p + 8))
            s2 = s2.addingProduct(b, load(p + stride)); s3 = s3.addingProduct(b, load(p + stride + 8))
            s4 = s4.addingProduct(b, load(p + 2 * stride)); s5 = s5.addingProduct(b, load(p + 2 * stride + 8))
            s6 = s6.addingProduct(b, load(p + 3 * stride)); s7 = s7.addingProduct(b, load(p + 3 * stride + 8))
        }
        store(s0, c); store(s1, c + 8); store(s2, c + 16); store(s3, c + 24)
        store(s4, c + 32); store(s5, c + 40); store(s6, c + 48); store(s7, c + 56)
    }

    /// The sum of a vector's lanes in one fixed order (halves, then halves again).
    @inline(__always)
    static func total(_ v: SIMD8<Float>) -> Float {
        let h = v.lowHalf + v.highHalf, q = h.lowHalf + h.highHalf
        return q[0] + q[1]
    }

    /// `c[r, j] += Σ_q a[r, q] · w[j, q]` for 4 rows and every output j of `w` ([outputs × k],
    /// k a multiple of 8), two outputs at a time: each output is eight partial sums over
    /// q ≡ l (mod 8), each one chain of fused multiply-adds in order, then `total`.
    static func dot4(_ a: UnsafePointer<Float>, lda: Int, _ w: UnsafePointer<Float>, k: Int, outputs: Int,
                     _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        var j = 0
        while j < outputs {
            // A last odd output pairs with itself (its second sums are discarded).
            let w0 = w + j * k, w1 = j + 1 < outputs ? w0 + k : w0
            var s00 = SIMD8<Float>.zero, s01 = SIMD8<Float>.zero, s10 = SIMD8<Float>.zero, s11 = SIMD8<Float>.zero
            var s20 = SIMD8<Float>.zero, s21 = SIMD8<Float>.zero, s30 = SIMD8<Float>.zero, s31 = SIMD8<Float>.zero
            var q = 0
            while q < k {
                let x0 = load(w0 + q), x1 = load(w1 + q)
                let r0 = load(a0 + q), r1 = load(a1 + q), r2 = load(a2 + q), r3 = load(a3 + q)
                s00 = s00.addingProduct(r0, x0); s01 = s01.addingProduct(r0, x1)
                s10 = s10.addingProduct(r1, x0); s11 = s11.addingProduct(r1, x1)
                s20 = s20.addingProduct(r2, x0); s21 = s21.addingProduct(r2, x1)
                s30 = s30.addingProduct(r3, x0); s31 = s31.addingProduct(r3, x1)
                q += 8
            }
            c[j] += total(s00); c[ldc + j] += total(s10); c[2 * ldc + j] += total(s20); c[3 * ldc + j] += total(s30)
            if j + 1 < outputs {
                c[j + 1] += total(s01); c[ldc + j + 1] += total(s11)
                c[2 * ldc + j + 1] += total(s21); c[3 * ldc + j + 1] += total(s31)
            }
            j += 2
        }
    }

    /// `dot4` for one row: the same sums in the same order.
    static func dot1(_ a: UnsafePointer<Float>, _ w: UnsafePointer<Float>, k: Int, outputs: Int,
                     _ c: UnsafeMutablePointer<Float>) {
        for j in 0..<outputs {
            var s = SIMD8<Float>.zero
            var q = 0
            while q < k {
                s = s.addingProduct(load(a + q), load(w + j * k + q))
                q += 8
            }
            c[j] += total(s)
        }
    }
}
