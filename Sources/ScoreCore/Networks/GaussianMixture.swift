import Foundation
import ScoreJSON

/// The analytic Gaussian mixture `p_0 = Σ_k w_k N(μ_k, diag(s_k²))` in model space.
///
/// Under every SDE of the format the marginal is again a mixture,
/// `p_t = Σ_k w_k N(a_t μ_k, diag(a_t² s_k² + σ_t²))`, so scores and densities are
/// exact: this is the ground truth samplers and likelihoods are tested against.
public struct GaussianMixture: ScoreNetwork {
    /// One component as config.json gives it (weights need not sum to 1).
    public struct Component: Sendable, Equatable {
        public let weight: Double
        public let mean: [Double]
        public let std: [Double]

        public init(weight: Double, mean: [Double], std: [Double]) {
            self.weight = weight
            self.mean = mean
            self.std = std
        }
    }

    public let sde: SDE
    public let components: [Component]
    public let dimension: Int
    /// log of the normalised weights.
    public let logWeights: [Double]

    public init(sde: SDE, components: [Component]) {
        precondition(!components.isEmpty)
        self.sde = sde
        self.components = components
        dimension = components[0].mean.count
        let total = components.reduce(0) { $0 + $1.weight }
        logWeights = components.map { Foundation.log($0.weight / total) }
    }

    public var typeName: String { "gmm" }
    public var parameterCount: Int { components.count * (1 + 2 * dimension) }

    public var hyperparameters: [(String, Hyperparameter)] { [("components", .integer(components.count))] }

    /// Normalised weights.
    public var weights: [Double] { logWeights.map { Foundation.exp($0) } }

    /// log p(x) of the mixture `Σ_k w_k N(a μ_k, diag(a² s_k² + σ²))`, and optionally
    /// its gradient. With a = 1, σ = 0 this is p_0; with a = a_t, σ = σ_t it is p_t.
    public func logDensity(_ x: UnsafePointer<Double>, a: Double, sigma: Double,
                           gradient: UnsafeMutablePointer<Double>? = nil) -> Double {
        let d = dimension
        var best = -Double.infinity
        // Two passes (max, then sum) keep the log-sum-exp stable without scratch.
        for k in components.indices { best = Swift.max(best, componentLog(k, x, a, sigma)) }
        var total = 0.0
        if let gradient { for j in 0..<d { gradient[j] = 0 } }
        for k in components.indices {
            let weight = Foundation.exp(componentLog(k, x, a, sigma) - best)
            total += weight
            if let gradient {
                let c = components[k]
                for j in 0..<d {
                    let variance = a * a * c.std[j] * c.std[j] + sigma * sigma
                    gradient[j] += weight * (a * c.mean[j] - x[j]) / variance
                }
            }
        }
        if let gradient { for j in 0..<d { gradient[j] /= total } }
        return best + Foundation.log(total)
    }

    @inline(__always)
    private func componentLog(_ k: Int, _ x: UnsafePointer<Double>, _ a: Double, _ sigma: Double) -> Double {
        let c = components[k]
        var s = logWeights[k]
        for j in 0..<dimension {
            let variance = a * a * c.std[j] * c.std[j] + sigma * sigma
            let r = x[j] - a * c.mean[j]
            s -= 0.5 * (Foundation.log(2 * Double.pi * variance) + r * r / variance)
        }
        return s
    }

    /// log p_t(x) at time t of the SDE.
    public func logDensity(_ x: [Double], t: Double) -> Double {
        x.withUnsafeBufferPointer { logDensity($0.baseAddress!, a: sde.meanCoefficient(t), sigma: sde.marginalStd(t)) }
    }

    /// Exact ∇ log p_t(x) in Float64.
    public func score(_ x: [Double], t: Double) -> [Double] {
        var g = [Double](repeating: 0, count: dimension)
        x.withUnsafeBufferPointer { xp in
            g.withUnsafeMutableBufferPointer { gp in
                _ = logDensity(xp.baseAddress!, a: sde.meanCoefficient(t), sigma: sde.marginalStd(t),
                               gradient: gp.baseAddress!)
            }
        }
        return g
    }

    public func workspaceBytes(rows: Int) -> Int {
        var s = ScratchLayout()
        _ = s.reserve(Double.self, 2 * dimension)
        return s.bytes
    }

    public func score(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows: Int,
                      into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer) {
        let d = dimension
        let xd = scratch.assumingMemoryBound(to: Double.self)
        let g = xd + d
        for r in 0..<rows {
            for j in 0..<d { xd[j] = Double(x[r * d + j]) }
            let t = times[r]
            _ = logDensity(xd, a: sde.meanCoefficient(t), sigma: sde.marginalStd(t), gradient: g)
            for j in 0..<d { out[r * d + j] = Float(g[j]) }
        }
    }

    public var supportsJVP: Bool { true }

    public func jvpWorkspaceBytes(rows: Int, tangents: Int) -> Int {
        var s = ScratchLayout()
        _ = s.reserve(Double.self, (2 + components.count) * dimension + components.count)
        return s.bytes
    }

    /// Exact Jacobian-vector products of the mixture score, in Float64:
    /// `J v = Σ_k r_k (−v / var_k + m_k (m_k · v)) − s (s · v)` with responsibilities
    /// r_k, `m_k = (a μ_k − x) / var_k` and `s = Σ_k r_k m_k`.
    public func jvp(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows: Int,
                    tangents p: Int, v: UnsafePointer<Float>,
                    score out: UnsafeMutablePointer<Float>, jv: UnsafeMutablePointer<Float>,
                    scratch: UnsafeMutableRawPointer) {
        let d = dimension, kCount = components.count
        let xd = scratch.assumingMemoryBound(to: Double.self)
        let sc = xd + d
        let m = sc + d                 // [K × D]
        let resp = m + kCount * d      // [K]
        for r in 0..<rows {
            for j in 0..<d { xd[j] = Double(x[r * d + j]) }
            let a = sde.meanCoefficient(times[r]), sigma = sde.marginalStd(times[r])
            var best = -Double.infinity
            for k in 0..<kCount {
                resp[k] = componentLog(k, xd, a, sigma)
                best = Swift.max(best, resp[k])
            }
            var total = 0.0
            for k in 0..<kCount { resp[k] = Foundation.exp(resp[k] - best); total += resp[k] }
            for j in 0..<d { sc[j] = 0 }
            for k in 0..<kCount {
                resp[k] /= total
                let c = components[k]
                for j in 0..<d {
                    let variance = a * a * c.std[j] * c.std[j] + sigma * sigma
                    m[k * d + j] = (a * c.mean[j] - xd[j]) / variance
                    sc[j] += resp[k] * m[k * d + j]
                }
            }
            for j in 0..<d { out[r * d + j] = Float(sc[j]) }
            for q in 0..<p {
                let vq = v + (r * p + q) * d, out = jv + (r * p + q) * d
                var sv = 0.0
                for j in 0..<d { sv += sc[j] * Double(vq[j]) }
                for j in 0..<d { xd[j] = -sc[j] * sv }  // x is no longer needed: reuse as accumulator
                for k in 0..<kCount {
                    let c = components[k]
                    var mv = 0.0
                    for j in 0..<d { mv += m[k * d + j] * Double(vq[j]) }
                    for j in 0..<d {
                        let variance = a * a * c.std[j] * c.std[j] + sigma * sigma
                        xd[j] += resp[k] * (-Double(vq[j]) / variance + m[k * d + j] * mv)
                    }
                }
                for j in 0..<d { out[j] = Float(xd[j]) }
            }
        }
    }
}
