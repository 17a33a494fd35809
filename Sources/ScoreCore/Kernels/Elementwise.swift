import Foundation

/// Element-wise passes over Float32 activations with the C library's `exp`: the
/// trainer's reference arithmetic (its weights are reproduced bit for bit, so it keeps
/// these); sampling uses the vectorised `VectorMath`.
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

    /// `out[i] = silu(x[i])`.
    @inline(__always)
    public static func silu(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = silu(x[i]) }
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
