/// PyTorch's `nn.GroupNorm` on one channel-major image `[C × P]`, and its tangent for
/// forward-mode JVPs. Statistics are accumulated in Float64.
public enum GroupNorm {
    /// In place: `x[c] += bias[c]` (a per-channel shift applied before the norm, e.g. a
    /// time embedding), then `y = γ_c (x − μ_g) / √(σ²_g + ε) + β_c` with the biased
    /// variance of each group of `C / groups` channels. When `normalized` and `invStd`
    /// are given, x̂ = (x − μ_g)/√(σ²_g + ε) and 1/√(σ²_g + ε) are kept for `tangent`.
    public static func forward(_ x: UnsafeMutablePointer<Float>, channels: Int, spatial: Int, groups: Int,
                               shift bias: UnsafePointer<Float>?, gamma: UnsafePointer<Float>,
                               beta: UnsafePointer<Float>, eps: Double = 1e-5,
                               normalized: UnsafeMutablePointer<Float>? = nil,
                               invStd: UnsafeMutablePointer<Float>? = nil) {
        let perGroup = channels / groups, count = perGroup * spatial
        for g in 0..<groups {
            let base = x + g * count
            if let bias {
                for c in 0..<perGroup {
                    let b = bias[g * perGroup + c], plane = base + c * spatial
                    for p in 0..<spatial { plane[p] += b }
                }
            }
            let mean = sum(base, count: count) / Double(count)
            let squares = squaredDeviations(base, from: mean, count: count)
            let inv = 1 / (squares / Double(count) + eps).squareRoot()
            invStd?[g] = Float(inv)
            let m = Float(mean), s = Float(inv)
            for c in 0..<perGroup {
                let channel = g * perGroup + c, plane = base + c * spatial
                let scale = gamma[channel], offset = beta[channel]
                if let normalized {
                    let xhat = normalized + g * count + c * spatial
                    for p in 0..<spatial {
                        let n = (plane[p] - m) * s
                        xhat[p] = n
                        plane[p] = n * scale + offset
                    }
                } else {
                    for p in 0..<spatial { plane[p] = (plane[p] - m) * s * scale + offset }
                }
            }
        }
    }

    /// The tangent of `forward` at the point it was evaluated, in place on `dx`:
    /// `dy = γ_c · inv_g · (dx − mean_g(dx) − x̂ · mean_g(x̂ · dx))`.
    public static func tangent(_ dx: UnsafeMutablePointer<Float>, channels: Int, spatial: Int, groups: Int,
                               gamma: UnsafePointer<Float>, normalized: UnsafePointer<Float>,
                               invStd: UnsafePointer<Float>) {
        let perGroup = channels / groups, count = perGroup * spatial
        for g in 0..<groups {
            let base = dx + g * count, xhat = normalized + g * count
            let (total, dot) = sumAndDot(base, xhat, count: count)
            let mean = Float(total / Double(count)), projection = Float(dot / Double(count)), inv = invStd[g]
            for c in 0..<perGroup {
                let scale = gamma[g * perGroup + c] * inv
                let plane = base + c * spatial, xh = xhat + c * spatial
                for p in 0..<spatial { plane[p] = scale * (plane[p] - mean - xh[p] * projection) }
            }
        }
    }

    // Float64 reductions in eight lanes: vector loads and adds, the lanes summed at the end.

    @inline(__always)
    static func lanes(_ x: UnsafePointer<Float>, _ i: Int) -> SIMD8<Double> {
        SIMD8<Double>(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
    }

    /// Σ x_i.
    static func sum(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var acc = SIMD8<Double>(), i = 0
        while i + 8 <= count { acc += lanes(x, i); i += 8 }
        var total = acc.sum()
        while i < count { total += Double(x[i]); i += 1 }
        return total
    }

    /// Σ (x_i − mean)².
    static func squaredDeviations(_ x: UnsafePointer<Float>, from mean: Double, count: Int) -> Double {
        var acc = SIMD8<Double>(), i = 0
        while i + 8 <= count {
            let d = lanes(x, i) - mean
            acc += d * d
            i += 8
        }
        var total = acc.sum()
        while i < count { let d = Double(x[i]) - mean; total += d * d; i += 1 }
        return total
    }

    /// (Σ x_i, Σ x_i y_i).
    static func sumAndDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> (Double, Double) {
        var sums = SIMD8<Double>(), dots = SIMD8<Double>(), i = 0
        while i + 8 <= count {
            let a = lanes(x, i)
            sums += a
            dots += a * lanes(y, i)
            i += 8
        }
        var total = sums.sum(), dot = dots.sum()
        while i < count { total += Double(x[i]); dot += Double(x[i]) * Double(y[i]); i += 1 }
        return (total, dot)
    }
}
