import Foundation

/// Named random streams, so different uses of randomness at the same
/// (sample, step) never share draws.
public struct NoiseStream: RawRepresentable, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let prior = NoiseStream(rawValue: 0)
    public static let predictor = NoiseStream(rawValue: 1)
    public static let probe = NoiseStream(rawValue: 3)
    public static let dequantize = NoiseStream(rawValue: 4)
    /// Test and tooling draws that must not collide with sampling streams.
    public static let auxiliary = NoiseStream(rawValue: 5)
    /// The stream of corrector sub-step `j` (0 ≤ j < 1984) within a time step.
    public static func corrector(_ j: Int) -> NoiseStream {
        precondition(j >= 0 && j < 1984)
        return NoiseStream(rawValue: 64 + UInt32(j))
    }

    /// Largest raw value the counter layout can hold.
    public static let maxRawValue: UInt32 = (1 << 11) - 1
}

/// The coordinates of one vector draw: (seed, sample index, step, stream).
///
/// Counter layout of the Philox block j of a draw: key = seed (two 32-bit words),
/// counter = (j, step, index low 32 bits, index high 21 bits | stream << 21).
/// Sample indices go up to 2^53 − 1, streams up to 2^11 − 1, and one draw spans up to
/// 2^32 blocks, so distinct coordinates never share a block.
public struct NoiseKey: Sendable, Hashable {
    public var seed: UInt64
    public var index: UInt64
    public var step: UInt32
    public var stream: NoiseStream

    /// Largest sample index the counter layout can address (2^53 − 1).
    public static let maxIndex: UInt64 = (1 << 53) - 1

    public init(seed: UInt64, index: UInt64, step: UInt32 = 0, stream: NoiseStream) {
        precondition(index <= NoiseKey.maxIndex, "sample index past 2^53 - 1")
        precondition(stream.rawValue <= NoiseStream.maxRawValue, "stream id too large")
        self.seed = seed
        self.index = index
        self.step = step
        self.stream = stream
    }

    @inline(__always)
    var philoxKey: SIMD2<UInt32> { SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)) }

    @inline(__always)
    func counter(_ j: UInt32) -> SIMD4<UInt32> {
        SIMD4(j, step, UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32) | (stream.rawValue << 21))
    }

    @inline(__always)
    func block(_ j: UInt32) -> SIMD4<UInt32> { Philox4x32.block(counter: counter(j), key: philoxKey) }

    /// Blocks `j ..< j + 8` (see `Philox4x32.blocks8`).
    @inline(__always)
    func blocks8(_ j: UInt32) -> (x: SIMD8<UInt32>, y: SIMD8<UInt32>, z: SIMD8<UInt32>, w: SIMD8<UInt32>) {
        Philox4x32.blocks8(counter: counter(j), key: philoxKey)
    }
}

/// Turns counter-based blocks into the distributions the samplers use.
public enum Noise {
    /// 2^-32: maps a 32-bit word w to the open interval (0, 1) as (w + ½)·2^-32.
    @usableFromInline static let unit = 1.0 / 4_294_967_296.0

    /// Fills `out` with independent standard normals (Box–Muller, four per block).
    public static func normal(_ key: NoiseKey, into out: UnsafeMutableBufferPointer<Double>) {
        fill(key, count: out.count) { i, z in out[i] = z }
    }

    /// Fills `out` with standard normals rounded to Float32; the same key gives the
    /// Float64 draws of `normal(_:into:)` rounded.
    public static func normal(_ key: NoiseKey, into out: UnsafeMutableBufferPointer<Float>) {
        fill(key, count: out.count) { i, z in out[i] = Float(z) }
    }

    @inline(__always)
    private static func fill(_ key: NoiseKey, count: Int, _ store: (Int, Double) -> Void) {
        var i = 0
        var j: UInt32 = 0
        while i < count {
            let w = key.block(j)
            j &+= 1
            let pair0 = boxMuller(w.x, w.y)
            store(i, pair0.0)
            if i + 1 < count { store(i + 1, pair0.1) }
            // The second pair only when it is used (a 2-D row needs one pair per block;
            // libm's log, sin and cos are most of a draw's cost).
            if i + 2 < count {
                let pair1 = boxMuller(w.z, w.w)
                store(i + 2, pair1.0)
                if i + 3 < count { store(i + 3, pair1.1) }
            }
            i += 4
        }
    }

    @inline(__always)
    static func boxMuller(_ a: UInt32, _ b: UInt32) -> (Double, Double) {
        let u1 = (Double(a) + 0.5) * unit
        let u2 = (Double(b) + 0.5) * unit
        let r = (-2 * Foundation.log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        return (r * Foundation.cos(angle), r * Foundation.sin(angle))
    }

    /// Fills `out` with independent standard normals for the SDE samplers' steps: the
    /// Philox words of `normal(_:into:)`, through Box–Muller with `VectorMath`'s `log`
    /// and `sinCos` (within a few Float64 ulp of `normal`'s libm draws, not the same
    /// bits). Eight Philox blocks at a time go through `blocks8` and their 16 pairs
    /// through `fastBoxMuller` on four lanes; the last values go a block at a time through
    /// the same lanes' arithmetic, so they get the same bits. With libm's calls a step's
    /// noise was 22% of `pc` on the 64-D mlp; this way it is about 9%.
    /// `normal` stays the draw of the prior, the probes and training, so their answers and
    /// the trained weights keep their bits.
    public static func stepNormal(_ key: NoiseKey, into out: UnsafeMutableBufferPointer<Double>) {
        let n = out.count
        guard n > 0, let p = out.baseAddress else { return }
        var i = 0
        var j: UInt32 = 0
        // 32 values (8 blocks, 16 pairs) at a time: block l's (x, y) pair gives values
        // 4l and 4l + 1, its (z, w) pair 4l + 2 and 4l + 3.
        while i + 32 <= n {
            let b = key.blocks8(j)
            for h in 0..<2 {
                let l = 4 * h
                let (c1, s1) = fastBoxMuller(doubles(b.x, from: l), doubles(b.y, from: l))
                let (c2, s2) = fastBoxMuller(doubles(b.z, from: l), doubles(b.w, from: l))
                for m in 0..<4 {
                    let o = p + i + 4 * (l + m)
                    o[0] = c1[m]
                    o[1] = s1[m]
                    o[2] = c2[m]
                    o[3] = s2[m]
                }
            }
            i += 32
            j &+= 8
        }
        // The rest a block at a time, its two pairs in lanes 0 and 1.
        while i < n {
            let w = key.block(j)
            j &+= 1
            let (c, s) = fastBoxMuller(SIMD4(Double(w.x), Double(w.z), 0, 0), SIMD4(Double(w.y), Double(w.w), 0, 0))
            p[i] = c[0]
            if i + 1 < n { p[i + 1] = s[0] }
            if i + 2 < n { p[i + 2] = c[1] }
            if i + 3 < n { p[i + 3] = s[1] }
            i += 4
        }
    }

    /// `stepNormal` for eight rows whose keys are `key` with the sample indices `indices`,
    /// each of `dimension` ≤ 4 values, row l's at `out + l · dimension`: their first
    /// blocks through one `Philox4x32.blocks8`, the pairs four rows to a vector. Each
    /// value goes through the operations of `stepNormal`'s block-at-a-time path, so it
    /// gets the same bits (low-dimensional rows drew one block each: 4% of W1's time).
    public static func stepNormals(_ key: NoiseKey, indices: SIMD8<UInt64>, dimension d: Int,
                                   into out: UnsafeMutablePointer<Double>) {
        precondition(d > 0 && d <= 4)
        let low = SIMD8<UInt32>(truncatingIfNeeded: indices)
        let high = SIMD8<UInt32>(truncatingIfNeeded: indices &>> 32) | (key.stream.rawValue << 21)
        let b = Philox4x32.blocks8(x: .zero, y: SIMD8(repeating: key.step), z: low, w: high, key: key.philoxKey)
        for h in 0..<2 {
            let l = 4 * h
            let (c1, s1) = fastBoxMuller(doubles(b.x, from: l), doubles(b.y, from: l))
            let (c2, s2) = d > 2 ? fastBoxMuller(doubles(b.z, from: l), doubles(b.w, from: l)) : (c1, s1)
            for m in 0..<4 {
                let o = out + (l + m) * d
                o[0] = c1[m]
                if d > 1 { o[1] = s1[m] }
                if d > 2 { o[2] = c2[m] }
                if d > 3 { o[3] = s2[m] }
            }
        }
    }

    /// Lanes `l ..< l + 4` of `words` as Doubles.
    @inline(__always)
    static func doubles(_ words: SIMD8<UInt32>, from l: Int) -> VectorMath.Doubles {
        VectorMath.Doubles(Double(words[l]), Double(words[l + 1]), Double(words[l + 2]), Double(words[l + 3]))
    }

    /// `boxMuller` on four pairs of words (given as Doubles), with `VectorMath`'s `log`,
    /// `squareRoot` and `sinCos`: (r cos θ, r sin θ) lane by lane.
    @inline(__always)
    static func fastBoxMuller(_ a: VectorMath.Doubles, _ b: VectorMath.Doubles) -> (VectorMath.Doubles, VectorMath.Doubles) {
        let u1 = (a + 0.5) * unit
        let u2 = (b + 0.5) * unit
        let r = VectorMath.squareRoot(-2 * VectorMath.log(u1))
        let (s, c) = VectorMath.sinCos(2 * Double.pi * u2)
        return (r * c, r * s)
    }

    /// Fills `out` with independent Rademacher signs ±1 (128 per block).
    public static func rademacher(_ key: NoiseKey, into out: UnsafeMutableBufferPointer<Double>) {
        var j: UInt32 = 0
        var i = 0
        while i < out.count {
            let w = key.block(j)
            j &+= 1
            for word in 0..<4 {
                var bits = w[word]
                for _ in 0..<32 where i < out.count {
                    out[i] = (bits & 1) == 0 ? 1 : -1
                    bits >>= 1
                    i += 1
                }
            }
        }
    }

    /// Fills `out` with independent uniforms on the open interval (0, 1), four per block.
    public static func uniform(_ key: NoiseKey, into out: UnsafeMutableBufferPointer<Double>) {
        var j: UInt32 = 0
        var i = 0
        while i < out.count {
            let w = key.block(j)
            j &+= 1
            for word in 0..<4 where i < out.count {
                out[i] = (Double(w[word]) + 0.5) * unit
                i += 1
            }
        }
    }
}
