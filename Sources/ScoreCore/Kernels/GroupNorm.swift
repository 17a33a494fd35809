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
            var sum = 0.0
            for i in 0..<count { sum += Double(base[i]) }
            let mean = sum / Double(count)
            var squares = 0.0
            for i in 0..<count {
                let d = Double(base[i]) - mean
                squares += d * d
            }
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
            var sum = 0.0, dot = 0.0
            for i in 0..<count {
                sum += Double(base[i])
                dot += Double(xhat[i]) * Double(base[i])
            }
            let mean = Float(sum / Double(count)), projection = Float(dot / Double(count)), inv = invStd[g]
            for c in 0..<perGroup {
                let scale = gamma[g * perGroup + c] * inv
                let plane = base + c * spatial, xh = xhat + c * spatial
                for p in 0..<spatial { plane[p] = scale * (plane[p] - mean - xh[p] * projection) }
            }
        }
    }
}
