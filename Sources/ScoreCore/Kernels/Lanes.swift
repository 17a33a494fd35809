/// Explicit vector loops for the kernels LLVM leaves scalar (strided or many-pointer
/// loops): 8 lanes at a time, then the rest one lane at a time through the same
/// closure, so every element gets exactly the same operations.
enum Lanes {
    typealias Vector = SIMD8<Float>

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> Vector { UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }

    @inline(__always)
    static func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }

    @inline(__always)
    static func store<V: SIMD>(_ value: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        UnsafeMutableRawPointer(p).storeBytes(of: value, as: V.self)
    }

    /// `out[i] = f(a[i], b[i])` for i < count.
    @inline(__always)
    static func map(_ count: Int, _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                    _ f: (Vector, Vector) -> Vector) {
        var i = 0
        while i + 8 <= count {
            store(f(load8(a + i), load8(b + i)), out + i)
            i += 8
        }
        while i < count {
            out[i] = f(Vector(repeating: a[i]), Vector(repeating: b[i]))[0]
            i += 1
        }
    }

    /// `out[i] = f(a[i], b[i], c[i])` for i < count.
    @inline(__always)
    static func map(_ count: Int, _ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                    _ c: UnsafePointer<Float>, _ f: (Vector, Vector, Vector) -> Vector) {
        var i = 0
        while i + 8 <= count {
            store(f(load8(a + i), load8(b + i), load8(c + i)), out + i)
            i += 8
        }
        while i < count {
            out[i] = f(Vector(repeating: a[i]), Vector(repeating: b[i]), Vector(repeating: c[i]))[0]
            i += 1
        }
    }
}
