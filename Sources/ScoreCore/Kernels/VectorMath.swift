/// Vectorised transcendental kernels for the networks' element-wise passes.
///
/// `exp` is Cephes' `expf` (range reduction by ln 2 in two parts, a degree-6
/// polynomial) with the rounding and the exponent done by float and integer bit
/// arithmetic instead of conversions and calls, every step a fused multiply-add where
/// it has one. The silu passes run it on `SIMD8<Float>` (one AVX register; LLVM's own
/// vectorisation of the scalar loop kept a separate multiply and add per step, and the
/// pass took 0.84 ns per value against 0.52 this way), and their remainders through
/// the scalar `exp`, which performs the same IEEE operations in the same order, so a
/// value's result is the same in either and a row's result depends only on that row.
/// About 2 ulp on [−87, 88].
public enum VectorMath {
    public typealias Vector = SIMD8<Float>

    /// e^x, inputs clamped to [−87.3, 88.3] (results stay finite and normal).
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        var x = x < -87.3 ? -87.3 : x
        x = x > 88.3 ? 88.3 : x
        // Adding 1.5·2²³ rounds x·log2(e) to an integer n held in the low mantissa bits.
        let shifted = Float(12_582_912).addingProduct(x, 1.442_695_040_888_963_4)
        let n = shifted - 12_582_912
        var r = x.addingProduct(n, -0.693_359_375)
        r = r.addingProduct(n, 2.121_944_400_546_905_8e-4)
        // The polynomial by Estrin's scheme: three independent pairs, then two steps in r².
        let r2 = r * r
        let p01 = Float(5.000_000_120_1e-1).addingProduct(r, 1.666_666_545_9e-1)
        let p23 = Float(4.166_579_589_4e-2).addingProduct(r, 8.333_451_907_3e-3)
        let p45 = Float(1.398_199_950_7e-3).addingProduct(r, 1.987_569_150_0e-4)
        let p = (r + 1).addingProduct(p01.addingProduct(r2, p23.addingProduct(r2, p45)), r2)
        // 2^n: n + 127 into the exponent field (the low bits of `shifted` are n + 2²²).
        let scale = Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
        return p * scale
    }

    /// `exp` on eight lanes: the same operations as the scalar one, lane by lane.
    @inline(__always)
    public static func exp(_ x: Vector) -> Vector {
        var x = x.replacing(with: -87.3, where: x .< -87.3)
        x = x.replacing(with: 88.3, where: x .> 88.3)
        let shifted = Vector(repeating: 12_582_912).addingProduct(x, Vector(repeating: 1.442_695_040_888_963_4))
        let n = shifted - 12_582_912
        var r = x.addingProduct(n, Vector(repeating: -0.693_359_375))
        r = r.addingProduct(n, Vector(repeating: 2.121_944_400_546_905_8e-4))
        let r2 = r * r
        let p01 = Vector(repeating: 5.000_000_120_1e-1).addingProduct(r, Vector(repeating: 1.666_666_545_9e-1))
        let p23 = Vector(repeating: 4.166_579_589_4e-2).addingProduct(r, Vector(repeating: 8.333_451_907_3e-3))
        let p45 = Vector(repeating: 1.398_199_950_7e-3).addingProduct(r, Vector(repeating: 1.987_569_150_0e-4))
        let p = (r + 1).addingProduct(p01.addingProduct(r2, p23.addingProduct(r2, p45)), r2)
        let bits = unsafeBitCast(shifted, to: SIMD8<Int32>.self)
        return p * unsafeBitCast((bits &- 0x4B40_0000 &+ 127) &<< 23, to: Vector.self)
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Vector { UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }

    @inline(__always)
    static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
    }

    /// Four Float64 lanes (one AVX register): the Float64 kernels below are written once,
    /// on these, and their scalar forms are lane 0 of a splat, so a value gets the same
    /// bits whichever form computes it.
    public typealias Doubles = SIMD4<Double>
    typealias DoubleBits = SIMD4<UInt64>

    /// (sin x, cos x) in Float64, for the time embeddings' Fourier features and Box–Muller:
    /// Cephes' `sin`/`cos` polynomials on [−π/4, π/4] after a reduction by π/2 in three
    /// FMA parts (exact to ~1 ulp for |x| < 2²⁰), the quadrant applied by selects and sign
    /// bits (libm's `sin`/`cos` were a call per value, 18% of an `ode` job on the 2-D mlp).
    @inline(__always)
    public static func sinCos(_ x: Doubles) -> (sin: Doubles, cos: Doubles) {
        // Adding 1.5·2⁵² rounds x·2/π to an integer n held in the low mantissa bits.
        let shifted = x * 0.636_619_772_367_581_34 + 6_755_399_441_055_744
        let n = shifted - 6_755_399_441_055_744
        var r = x.addingProduct(-n, Doubles(repeating: 1.570_796_326_794_896_558))
        r = r.addingProduct(-n, Doubles(repeating: 6.123_233_995_736_766e-17))
        r = r.addingProduct(-n, Doubles(repeating: -1.497_384_904_859_169_6e-33))
        let z = r * r
        var ps = Doubles(repeating: 1.589_623_015_765_465_680_60e-10)
        ps = ps * z - 2.505_074_776_285_780_728_66e-8
        ps = ps * z + 2.755_731_362_138_572_452_13e-6
        ps = ps * z - 1.984_126_982_958_953_859_96e-4
        ps = ps * z + 8.333_333_333_322_118_588_78e-3
        ps = ps * z - 1.666_666_666_666_663_072_95e-1
        let s = r + r * z * ps
        var pc = Doubles(repeating: -1.135_853_652_138_768_173_00e-11)
        pc = pc * z + 2.087_570_084_197_473_167_78e-9
        pc = pc * z - 2.755_731_417_929_673_881_12e-7
        pc = pc * z + 2.480_158_728_885_170_453_48e-5
        pc = pc * z - 1.388_888_888_887_305_641_16e-3
        pc = pc * z + 4.166_666_666_666_659_292_18e-2
        let c = 1 - 0.5 * z + z * z * pc
        // Quadrant q = n mod 4: sin x = (s, c, −s, −c)[q], cos x = (c, −s, −c, s)[q].
        let q = unsafeBitCast(shifted, to: DoubleBits.self)
        let swap = (q & 1) .!= 0
        let sinSign = (q & 2) &<< 62, cosSign = ((q &+ 1) & 2) &<< 62
        let sinBits = unsafeBitCast(s.replacing(with: c, where: swap), to: DoubleBits.self) ^ sinSign
        let cosBits = unsafeBitCast(c.replacing(with: s, where: swap), to: DoubleBits.self) ^ cosSign
        return (unsafeBitCast(sinBits, to: Doubles.self), unsafeBitCast(cosBits, to: Doubles.self))
    }

    /// (sin x, cos x) of one value: lane 0 of the vector form.
    @inline(__always)
    public static func sinCos(_ x: Double) -> (sin: Double, cos: Double) {
        let (s, c) = sinCos(Doubles(repeating: x))
        return (s[0], c[0])
    }

    /// ln x for positive normal x, in Float64: fdlibm's `__ieee754_log` (x = 2^k·(1 + f)
    /// with √½ < 1 + f < √2, s = f/(2 + f), a degree-14 polynomial in s, ln 2 in two
    /// parts), under 1 ulp. The exponent is taken apart with integer bit arithmetic and
    /// k converted by the 2⁵² trick. No zeros, negatives, subnormals, infinities or NaNs:
    /// the callers' inputs are uniforms in (0, 1).
    @inline(__always)
    public static func log(_ x: Doubles) -> Doubles {
        // Shift the mantissa range [1, 2) to [√½, √2): add (1 − √½'s high word) before
        // reading k, then put √½'s exponent back.
        let bits = unsafeBitCast(x, to: DoubleBits.self) &+ (0x0009_5F62 << 32)
        let k = unsafeBitCast(0x4330_0000_0000_0000 | (bits &>> 52), to: Doubles.self) - (4_503_599_627_370_496 + 1023)
        let f = unsafeBitCast((bits & 0x000F_FFFF_FFFF_FFFF) &+ (0x3FE6_A09E << 32), to: Doubles.self) - 1
        let hfsq = 0.5 * f * f
        let s = f / (2 + f), z = s * s, w = z * z
        let t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01))
        let t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01
            + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)))
        let r = t2 + t1
        return k * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + r) + k * 1.90821492927058770002e-10)) - f)
    }

    /// √x for positive normal x, in Float64, within an ulp: Swift's `squareRoot()` on a
    /// SIMD vector is a libm call per lane, which also turned the `log` feeding it back into
    /// scalar code. A bit-trick estimate of 1/√x (3.4% off), four Newton steps
    /// (y ← y(1.5 − ½xy²): 1.7e-3, 4.5e-6, 3e-11, 1e-21), then √x ≈ xy with one
    /// correction by its residual x − (xy)².
    @inline(__always)
    public static func squareRoot(_ x: Doubles) -> Doubles {
        var y = unsafeBitCast(0x5FE6_EB50_C7B5_37A9 &- (unsafeBitCast(x, to: DoubleBits.self) &>> 1), to: Doubles.self)
        let half = 0.5 * x
        for _ in 0..<4 { y = y * (1.5 - half * y * y) }
        let r = x * y
        return r.addingProduct(0.5 * y, x.addingProduct(-r, r))
    }

    /// ln x of one value: lane 0 of the vector form.
    @inline(__always)
    public static func log(_ x: Double) -> Double { log(Doubles(repeating: x))[0] }

    /// Gaussian Fourier features in place of `count` frequencies:
    /// `out[j] = sin(scale · w[j])`, `out[count + j] = cos(scale · w[j])`, the argument
    /// and the functions in Float64 (accurate for large frequencies), rounded to Float.
    @inline(__always)
    public static func fourierFeatures(scale: Double, frequencies w: UnsafePointer<Float>, count: Int,
                                       into out: UnsafeMutablePointer<Float>) {
        var j = 0
        while j < count {
            let lanes = Swift.min(4, count - j)
            var x = Doubles()
            for l in 0..<lanes { x[l] = scale * Double(w[j + l]) }
            let (s, c) = sinCos(x)
            for l in 0..<lanes {
                out[j + l] = Float(s[l])
                out[count + j + l] = Float(c[l])
            }
            j += 4
        }
    }

    /// silu(x) = x / (1 + e^−x): one division, no separate σ (the passes below are about
    /// a fifth of a small mlp's time).
    @inline(__always)
    public static func silu(_ x: Float) -> Float { x / (1 + exp(-x)) }

    @inline(__always)
    static func silu(_ x: Vector) -> Vector { x / (1 + exp(-x)) }

    /// (silu x, silu' x) from one exponential: silu' = σ(1 + x(1 − σ)); silu is formed
    /// exactly as `silu(_:)` forms it, so a JVP's primal pass has the plain pass's bits.
    @inline(__always)
    static func siluAndDerivative(_ x: Float) -> (Float, Float) {
        let d = 1 + exp(-x), s = 1 / d
        return (x / d, s * (1 + x * (1 - s)))
    }

    @inline(__always)
    static func siluAndDerivative(_ x: Vector) -> (Vector, Vector) {
        let d = 1 + exp(-x), s = 1 / d
        return (x / d, s * (1 + x * (1 - s)))
    }

    /// silu'(x) = σ(x)(1 + x(1 − σ(x))).
    @inline(__always)
    public static func siluDerivative(_ x: Float) -> Float { siluAndDerivative(x).1 }

    /// `x[i] = silu(x[i])` over `count` values.
    @inline(__always)
    public static func siluInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        silu(x, into: x, count: count)
    }

    /// `out[i] = silu(x[i])` (`out` may be `x`).
    @inline(__always)
    public static func silu(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            store(silu(load(x + i)), out + i)
            i += 8
        }
        while i < count { out[i] = silu(x[i]); i += 1 }
    }

    /// `out[i] = silu(x[i])` and `derivative[i] = silu'(x[i])` from one exponential.
    @inline(__always)
    public static func silu(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                            derivative: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let (u, d) = siluAndDerivative(load(x + i))
            store(u, out + i)
            store(d, derivative + i)
            i += 8
        }
        while i < count {
            (out[i], derivative[i]) = siluAndDerivative(x[i])
            i += 1
        }
    }

    /// One residual block's element-wise pass over a row of `count` values:
    /// `z = h + temb`, `u = silu(z)`, `h += bias` (the dense layer's bias, added before
    /// its GEMM accumulates into `h`).
    @inline(__always)
    public static func blockInput(h: UnsafeMutablePointer<Float>, temb: UnsafePointer<Float>,
                                  bias: UnsafePointer<Float>, u: UnsafeMutablePointer<Float>, count: Int) {
        var j = 0
        while j + 8 <= count {
            let hj = load(h + j)
            store(silu(hj + load(temb + j)), u + j)
            store(hj + load(bias + j), h + j)
            j += 8
        }
        while j < count {
            u[j] = silu(h[j] + temb[j])
            h[j] += bias[j]
            j += 1
        }
    }

    /// `blockInput`, also keeping silu'(z) in `derivative` (for JVPs).
    @inline(__always)
    public static func blockInput(h: UnsafeMutablePointer<Float>, temb: UnsafePointer<Float>,
                                  bias: UnsafePointer<Float>, u: UnsafeMutablePointer<Float>,
                                  derivative: UnsafeMutablePointer<Float>, count: Int) {
        var j = 0
        while j + 8 <= count {
            let hj = load(h + j)
            let (uj, dj) = siluAndDerivative(hj + load(temb + j))
            store(uj, u + j)
            store(dj, derivative + j)
            store(hj + load(bias + j), h + j)
            j += 8
        }
        while j < count {
            (u[j], derivative[j]) = siluAndDerivative(h[j] + temb[j])
            h[j] += bias[j]
            j += 1
        }
    }

    /// `out[i] = a[i] · b[i]`: a tangent through a silu, given silu' at the primal point.
    @inline(__always)
    public static func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                into out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = a[i] * b[i] }
    }
}
