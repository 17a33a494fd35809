/// Loops for the Winograd transforms: element-wise maps over contiguous runs, written
/// as plain loops (LLVM vectorises them in release builds, and they stay quick in the
/// debug builds the tests run), and vector loads and stores for the two strided steps
/// LLVM leaves scalar (splitting a line into its even and odd columns, interleaving
/// a tile's two output columns).
enum Lanes {
    typealias Vector = SIMD8<Float>

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> Vector { UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }

    @inline(__always)
    static func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }

    @inline(__always)
    static func load<V: SIMD>(_: V.Type, _ p: UnsafePointer<Float>) -> V where V.Scalar == Float {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    @inline(__always)
    static func store<V: SIMD>(_ value: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        UnsafeMutableRawPointer(p).storeBytes(of: value, as: V.self)
    }

    /// The first `count` lanes of `value` (all of them, or fewer at a run's end).
    @inline(__always)
    static func store<V: SIMD>(_ value: V, _ p: UnsafeMutablePointer<Float>, _ count: Int) where V.Scalar == Float {
        if count == V.scalarCount {
            store(value, p)
        } else {
            for k in 0..<count { p[k] = value[k] }
        }
    }

    /// `out[i] = f(a[i], b[i])` for i < count.
    @inline(__always)
    static func map(_ count: Int, _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                    _ f: (Float, Float) -> Float) {
        for i in 0..<count { out[i] = f(a[i], b[i]) }
    }

    /// `out[i] = f(a[i], b[i], c[i])` for i < count.
    @inline(__always)
    static func map(_ count: Int, _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                    _ c: UnsafePointer<Float>, _ f: (Float, Float, Float) -> Float) {
        for i in 0..<count { out[i] = f(a[i], b[i], c[i]) }
    }
}
