import ScoreCore

/// How the divergence of the probability-flow drift is computed.
public enum DivergenceEstimator: String, Sendable, CaseIterable {
    /// The exact Jacobian trace, one JVP per dimension.
    case exact
    /// The Hutchinson–Skilling estimator E[εᵀ J ε].
    case hutchinson
}

/// Distribution of Hutchinson probes.
public enum ProbeNoise: String, Sendable, CaseIterable {
    case rademacher, gaussian
}

/// How divergences are computed along a likelihood ODE.
public struct DivergenceOptions: Sendable, Equatable {
    public let estimator: DivergenceEstimator
    public let noise: ProbeNoise
    public let probes: Int

    /// The `estimator`, `noise` and `probes` fields of `operation`: the contract's
    /// defaults are the exact trace when D ≤ 16, else Hutchinson with one Rademacher probe.
    init(_ values: FieldValues, _ operation: Operation, dimension: Int) throws(SamplingError) {
        estimator = try values.choice(RequestFields.row("estimator", operation), DivergenceEstimator.self)
            ?? (dimension <= 16 ? .exact : .hutchinson)
        noise = try values.choice(RequestFields.row("noise", operation), ProbeNoise.self)!
        probes = try values.int(RequestFields.row("probes", operation))!
    }

    /// JVPs per network evaluation.
    public func tangents(dimension: Int) -> Int { estimator == .exact ? dimension : probes }
}

/// The probability-flow ODE of an SDE, evaluated on any subset of a chunk's rows:
///
///     dx/dt = f(x, t) − ½ g(t)² s(x, t)
///     dℓ/dt = ∇·(that drift) = D b(t) − ½ g(t)² tr(∂s/∂x)      (with `divergence`)
///
/// A row's state is `[x (D values), ℓ]` with `divergence`, `[x]` without. The
/// divergence is the exact trace (D JVPs with the unit vectors) or the
/// Hutchinson–Skilling estimate with probes drawn per sample and held fixed.
final class ProbabilityFlow {
    let sde: SDE
    let dimension: Int
    /// Values per row of the ODE state: D, or D + 1 with the log-density.
    let width: Int
    let divergence: DivergenceOptions?
    let capacity: Int
    private let workspace: ScoreWorkspace
    private let tangentCount: Int
    private let input: UnsafeMutablePointer<Float>
    private let score: UnsafeMutablePointer<Float>
    private let tangents: UnsafeMutablePointer<Float>
    private let jv: UnsafeMutablePointer<Float>
    /// Hutchinson probes of each chunk row, [capacity × P × D].
    private let probes: UnsafeMutablePointer<Float>
    /// Network evaluations per chunk row.
    var nfe: [Int]
    /// Counts evaluations as they happen.
    private let stats: EngineStats?

    /// `capacity` rows; `probeIndex(r)`, `seed` key the Hutchinson probes of chunk row r.
    init(sde: SDE, network: any ScoreNetwork, capacity: Int, divergence: DivergenceOptions?,
         stats: EngineStats?, seed: UInt64 = 0, probeIndex: (Int) -> UInt64 = { UInt64($0) }) {
        self.stats = stats
        self.sde = sde
        dimension = network.dimension
        width = dimension + (divergence == nil ? 0 : 1)
        self.divergence = divergence
        self.capacity = capacity
        let d = dimension
        switch divergence?.estimator {
        case .exact?: tangentCount = d
        case .hutchinson?: tangentCount = divergence!.probes
        case nil: tangentCount = 0
        }
        workspace = ScoreWorkspace(network: network, rows: capacity, tangents: tangentCount)
        input = .allocate(capacity: capacity * d)
        score = .allocate(capacity: capacity * d)
        tangents = .allocate(capacity: Swift.max(1, capacity * tangentCount * d))
        jv = .allocate(capacity: Swift.max(1, capacity * tangentCount * d))
        let hutchinson = divergence?.estimator == .hutchinson
        probes = .allocate(capacity: hutchinson ? capacity * tangentCount * d : 1)
        nfe = Array(repeating: 0, count: capacity)
        if divergence?.estimator == .exact {
            // The unit vectors e_1 … e_D for every row, set once.
            tangents.initialize(repeating: 0, count: capacity * d * d)
            for r in 0..<capacity { for j in 0..<d { tangents[(r * d + j) * d + j] = 1 } }
        } else if hutchinson, let options = divergence {
            let n = tangentCount * d
            var draw = [Double](repeating: 0, count: n)
            for r in 0..<capacity {
                let key = NoiseKey(seed: seed, index: probeIndex(r), step: 0, stream: .probe)
                draw.withUnsafeMutableBufferPointer { buffer in
                    switch options.noise {
                    case .rademacher: Noise.rademacher(key, into: buffer)
                    case .gaussian: Noise.normal(key, into: buffer)
                    }
                }
                for i in 0..<n { probes[r * n + i] = Float(draw[i]) }
            }
        }
    }

    deinit {
        input.deallocate(); score.deallocate(); tangents.deallocate(); jv.deallocate(); probes.deallocate()
    }

    /// Evaluates the right-hand side for `rows` states `y` ([rows × width]) at
    /// `times`, writing `out` ([rows × width]); `ids` are the chunk rows they belong to.
    func evaluate(_ y: UnsafePointer<Double>, times: UnsafePointer<Double>, rows: Int,
                  ids: UnsafePointer<Int>, into out: UnsafeMutablePointer<Double>) {
        let d = dimension, w = width
        var start = 0
        while start < rows {
            let m = Swift.min(capacity, rows - start)
            for r in 0..<m { for j in 0..<d { input[r * d + j] = Float(y[(start + r) * w + j]) } }
            let t = times + start
            if let divergence {
                let p = tangentCount
                if divergence.estimator == .hutchinson {
                    for r in 0..<m {
                        (tangents + r * p * d).update(from: probes + ids[start + r] * p * d, count: p * d)
                    }
                }
                workspace.jvp(input, times: t, rows: m, tangents: p, v: tangents, score: score, jv: jv)
                for r in 0..<m {
                    var trace = 0.0
                    if divergence.estimator == .exact {
                        for j in 0..<d { trace += Double(jv[(r * d + j) * d + j]) }
                    } else {
                        for q in 0..<(p * d) { trace += Double(tangents[r * p * d + q]) * Double(jv[r * p * d + q]) }
                        trace /= Double(p)
                    }
                    let g = sde.diffusion(t[r])
                    out[(start + r) * w + d] = Double(d) * sde.driftCoefficient(t[r]) - 0.5 * g * g * trace
                }
            } else {
                workspace.score(input, times: t, rows: m, into: score)
            }
            for r in 0..<m {
                let b = sde.driftCoefficient(t[r]), g = sde.diffusion(t[r])
                let half = 0.5 * g * g
                let row = (start + r) * w
                for j in 0..<d { out[row + j] = b * y[row + j] - half * Double(score[r * d + j]) }
                nfe[ids[start + r]] += 1
            }
            stats?.evaluated(rows: m)
            start += m
        }
    }
}
