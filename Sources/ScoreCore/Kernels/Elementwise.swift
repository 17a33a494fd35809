import Foundation

/// Fused element-wise passes over Float32 activations.
public enum Elementwise {
    /// silu(x) = x · sigmoid(x).
    @inline(__always)
    public static func silu(_ x: Float) -> Float { x / (1 + Foundation.exp(-x)) }

    /// silu'(x) = σ(x)(1 + x(1 − σ(x))).
    @inline(__always)
    public static func siluDerivative(_ x: Float) -> Float {
        let s = 1 / (1 + Foundation.exp(-x))
        return s * (1 + x * (1 - s))
    }

    /// `x[i] = silu(x[i])` over `count` values.
    @inline(__always)
    public static func siluInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = silu(x[i]) }
    }

    /// `out[i] = silu(x[i])`.
    @inline(__always)
    public static func silu(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = silu(x[i]) }
    }

    /// `out[i] = silu(a[i] + b[i])`: a residual stream plus a time embedding.
    @inline(__always)
    public static func siluSum(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                               into out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = silu(a[i] + b[i]) }
    }

    /// Writes `bias` into each of `rows` rows of `out` (the `beta = 1` start of a GEMM).
    @inline(__always)
    public static func broadcastRows(_ bias: UnsafePointer<Float>, rows: Int, columns: Int,
                                     into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            (out + r * columns).update(from: bias, count: columns)
        }
    }
}
