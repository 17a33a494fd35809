import Foundation
import ScoreCore

extension NoiseStream {
    /// Draws that make training data: toy-set points and data-set splits.
    public static let data = NoiseStream(rawValue: 32)
}

/// The `step` coordinate of the `.data` stream's draws, so that the uniforms and normals of
/// one toy point and the keys of a split never share Philox blocks.
enum DatasetDrawStep {
    static let toyUniforms: UInt32 = 0
    static let toyNormals: UInt32 = 1
    static let split: UInt32 = 2
}

/// The two-dimensional toy distributions of the score-matching and flow literature, as
/// defined by FFJORD's `lib/toy_data.py` (Grathwohl, Chen et al., 2019) and, for moons,
/// circles and swissroll, the scikit-learn generators it calls (`make_moons`,
/// `make_circles`, `make_swiss_roll`).
///
/// The distributions are reproduced, not the random-number streams. Point `i` of a set
/// drawn with seed `s` is a pure function of `(s, i)`: it uses three uniforms on (0, 1)
/// `u₀, u₁, u₂` from `NoiseKey(seed: s, index: i, step: 0, stream: .data)` and two standard
/// normals `z₀, z₁` from the same key with `step: 1`. Points are therefore i.i.d., and any
/// range of indices can be drawn on its own (`offset`) with the same values. Where the
/// originals fix the number of points per component (sklearn's `n // 2`, FFJORD's
/// `batch_size // 5` per pinwheel arm) or space angles evenly, the component and angle are
/// drawn uniformly instead, which is the same distribution.
public enum ToyDataset: String, CaseIterable, Sendable {
    /// Two interleaved half circles: `make_moons(noise: 0.1)`, then `2·x + (−1, −0.2)`.
    /// With θ = π·u₁: the upper moon (u₀ < ½) is `(2cos θ − 1, 2sin θ − 0.2)`, the lower one
    /// `(1 − 2cos θ, 0.8 − 2sin θ)`; then `+ 0.2·(z₀, z₁)`.
    /// Mean (0, 0.3); variance (3.04, 2.29 − 4/π).
    case moons
    /// Two concentric circles: `make_circles(factor: 0.5, noise: 0.08)`, then `× 3`.
    /// With θ = 2π·u₁: radius r = 3 (u₀ < ½) or 1.5, point `r·(cos θ, sin θ) + 0.24·(z₀, z₁)`.
    /// Mean 0; variance 2.8125 + 0.0576 per coordinate.
    case circles
    /// The swiss roll seen from above: `make_swiss_roll(noise: 1)`, coordinates (x, z),
    /// divided by 5. With t = 1.5π·(1 + 2u₀): `((t cos t + z₀) / 5, (t sin t + z₁) / 5)`.
    /// Mean (0.4, 2 / (15π)).
    case swissroll
    /// An equal mixture of 8 isotropic Gaussians: component k = ⌊8u₀⌋ has centre
    /// `R·(cos kπ/4, sin kπ/4)` with R = 4 / 1.414 and standard deviation σ = 0.5 / 1.414
    /// (FFJORD: centres at radius 4, noise 0.5, everything divided by 1.414); the point is
    /// `centre + σ·(z₀, z₁)`. See `eightGaussiansCentres`, `eightGaussiansStd`.
    case eightGaussians = "8gaussians"
    /// Uniform on the 8 "black" squares of a 4 × 4 board of 2 × 2 squares on [−4, 4)²: the
    /// square with corner (2i, 2j), i, j ∈ {−2, …, 1}, is black when i + j is even
    /// (FFJORD: x₁ uniform on [−2, 2), x₂ = U[0, 1) − 2·B + (⌊x₁⌋ mod 2) with B ∈ {0, 1}
    /// a fair coin, both times 2). Here x₁ = 4u₀ − 2, B = [u₁ ≥ ½], U = u₂.
    /// Density 1/32 on the black squares (area 32), 0 elsewhere.
    case checkerboard
    /// Five curved arms: arm k = ⌊5u₀⌋, f = (1 + 0.3·z₀, 0.1·z₁) (radial, tangential),
    /// angle a = 2πk/5 + 0.25·exp(f₀), point `2·(f₀ cos a + f₁ sin a, −f₀ sin a + f₁ cos a)`
    /// (FFJORD's `einsum("ti,tij->tj", features, rotations)` with rotation
    /// [[cos a, −sin a], [sin a, cos a]]). Mean 0; variance 2.2 per coordinate.
    case pinwheel

    /// Radius of the 8gaussians centres, 4 / 1.414 (FFJORD divides by 1.414, not √2).
    public static let eightGaussiansRadius = 4.0 / 1.414
    /// Standard deviation of each 8gaussians component in each coordinate, 0.5 / 1.414.
    public static let eightGaussiansStd = 0.5 / 1.414
    /// The 8gaussians centres, component k at angle kπ/4 (k = 0 at (R, 0), counter-clockwise).
    public static let eightGaussiansCentres: [SIMD2<Double>] = {
        let r = eightGaussiansRadius
        let d = r / 2.0.squareRoot()
        return [SIMD2(r, 0), SIMD2(d, d), SIMD2(0, r), SIMD2(-d, d),
                SIMD2(-r, 0), SIMD2(-d, -d), SIMD2(0, -r), SIMD2(d, -d)]
    }()

    /// Points `offset ..< offset + count` of the set with this seed, row-major (count × 2).
    /// Point i does not depend on `count` or `offset`: `sample(count: 10, seed: s, offset: 5)`
    /// is rows 5..<15 of `sample(count: 20, seed: s)`.
    public func sample(count: Int, seed: UInt64, offset: Int = 0) -> [Double] {
        precondition(count >= 0 && offset >= 0, "count and offset must be non-negative")
        guard count > 0 else { return [] }
        precondition(UInt64(offset) + UInt64(count) - 1 <= NoiseKey.maxIndex, "point index past 2^53 - 1")
        var out = [Double](repeating: 0, count: 2 * count)
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 6) { buffer in
            buffer.initialize(repeating: 0)
            let u = UnsafeMutableBufferPointer(rebasing: buffer[0 ..< 3])
            let z = UnsafeMutableBufferPointer(rebasing: buffer[3 ..< 5])
            for k in 0 ..< count {
                let index = UInt64(offset + k)
                Noise.uniform(NoiseKey(seed: seed, index: index, step: DatasetDrawStep.toyUniforms,
                                       stream: .data), into: u)
                Noise.normal(NoiseKey(seed: seed, index: index, step: DatasetDrawStep.toyNormals,
                                      stream: .data), into: z)
                let p = point(u0: u[0], u1: u[1], u2: u[2], z0: z[0], z1: z[1])
                out[2 * k] = p.x
                out[2 * k + 1] = p.y
            }
        }
        return out
    }

    /// One point from its uniforms on (0, 1) and standard normals (see the case comments).
    func point(u0: Double, u1: Double, u2: Double, z0: Double, z1: Double) -> SIMD2<Double> {
        switch self {
        case .moons:
            let theta = Double.pi * u1
            let (c, s) = (cos(theta), sin(theta))
            let base = u0 < 0.5 ? SIMD2(2 * c - 1, 2 * s - 0.2) : SIMD2(1 - 2 * c, 0.8 - 2 * s)
            return base + 0.2 * SIMD2(z0, z1)
        case .circles:
            let theta = 2 * Double.pi * u1
            let r = u0 < 0.5 ? 3.0 : 1.5
            return r * SIMD2(cos(theta), sin(theta)) + 0.24 * SIMD2(z0, z1)
        case .swissroll:
            let t = 1.5 * Double.pi * (1 + 2 * u0)
            return SIMD2(t * cos(t) + z0, t * sin(t) + z1) / 5
        case .eightGaussians:
            let k = min(Int(u0 * 8), 7)
            return ToyDataset.eightGaussiansCentres[k] + ToyDataset.eightGaussiansStd * SIMD2(z0, z1)
        case .checkerboard:
            let x1 = 4 * u0 - 2
            let b = u1 < 0.5 ? 0.0 : 1.0
            let f = Int(x1.rounded(.down))
            let parity = Double(((f % 2) + 2) % 2)
            let x2 = u2 - 2 * b + parity
            return 2 * SIMD2(x1, x2)
        case .pinwheel:
            let k = min(Int(u0 * 5), 4)
            let f0 = 1 + 0.3 * z0
            let f1 = 0.1 * z1
            let a = 2 * Double.pi * Double(k) / 5 + 0.25 * exp(f0)
            let (c, s) = (cos(a), sin(a))
            return 2 * SIMD2(f0 * c + f1 * s, -f0 * s + f1 * c)
        }
    }

    /// The exact log-density at (x, y) for the sets with a closed form, nil for the others.
    ///
    /// - 8gaussians: `log((1/8) Σₖ N((x, y); cₖ, σ²I))` with the centres and σ above,
    ///   evaluated with log-sum-exp (finite everywhere).
    /// - checkerboard: `−log 32` on the black squares (half-open, as generated:
    ///   −4 ≤ x, y < 4 and ⌊x/2⌋ + ⌊y/2⌋ even), `−Double.infinity` elsewhere.
    public func logDensity(_ x: Double, _ y: Double) -> Double? {
        switch self {
        case .eightGaussians:
            let sigma = ToyDataset.eightGaussiansStd
            let inverseTwoVariance = 1 / (2 * sigma * sigma)
            let p = SIMD2(x, y)
            func exponent(_ c: SIMD2<Double>) -> Double {
                let d = p - c
                return -(d * d).sum() * inverseTwoVariance
            }
            let centres = ToyDataset.eightGaussiansCentres
            var m = -Double.infinity
            for c in centres { m = max(m, exponent(c)) }
            var sum = 0.0
            for c in centres { sum += exp(exponent(c) - m) }
            return m + log(sum) - log(8.0) - log(2 * Double.pi * sigma * sigma)
        case .checkerboard:
            guard x >= -4, x < 4, y >= -4, y < 4 else { return -Double.infinity }
            let i = Int((x / 2).rounded(.down)), j = Int((y / 2).rounded(.down))
            return (i + j) % 2 == 0 ? -log(32.0) : -Double.infinity
        case .moons, .circles, .swissroll, .pinwheel:
            return nil
        }
    }
}
