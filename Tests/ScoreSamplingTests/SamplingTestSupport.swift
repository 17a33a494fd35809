import Foundation
import ScoreCore
import ScoreSampling

/// Shared helpers for the sampling tests.
enum TestModels {
    /// A `ScoreModel` for an analytic mixture under `sde`, built in memory (the same
    /// path as a model directory: config parsing is tested elsewhere).
    static func gmm(_ sde: SDE, components: [GaussianMixture.Component], name: String = "gmm-test",
                    shift: [Double]? = nil, scale: [Double]? = nil, levels: Int? = nil,
                    transform: DataTransform = .affine) -> ScoreModel {
        let d = components[0].mean.count
        let data = DataSpec(shape: [d], shift: shift ?? Array(repeating: 0, count: d),
                            scale: scale ?? Array(repeating: 1, count: d), levels: levels, transform: transform)
        let config = ModelConfig(name: name, description: "test mixture", data: data, sde: sde,
                                 network: .gmm(components), weights: nil)
        return ScoreModel(directory: "(memory)", config: config,
                          network: GaussianMixture(sde: sde, components: components),
                          tensors: [], weightsMetadata: [:])
    }

    /// A 2-D mixture of three well-separated components with unequal weights.
    static let mixture2D: [GaussianMixture.Component] = [
        .init(weight: 0.5, mean: [-2, 0], std: [0.4, 0.4]),
        .init(weight: 0.3, mean: [2, 1], std: [0.3, 0.5]),
        .init(weight: 0.2, mean: [0.5, -2.5], std: [0.5, 0.3]),
    ]

    /// A 5-D mixture of two components.
    static let mixture5D: [GaussianMixture.Component] = [
        .init(weight: 0.6, mean: [1, -1, 0.5, 0, 2], std: [0.5, 0.4, 0.6, 0.5, 0.3]),
        .init(weight: 0.4, mean: [-1.5, 1, -0.5, 1, -1], std: [0.4, 0.5, 0.3, 0.6, 0.5]),
    ]
}

extension SplitMix64 {
    /// `n` exact draws from a mixture, [n × D], and their component labels.
    mutating func mixture(_ components: [GaussianMixture.Component], n: Int) -> (points: [Double], labels: [Int]) {
        let total = components.reduce(0) { $0 + $1.weight }
        var points: [Double] = [], labels: [Int] = []
        for _ in 0..<n {
            var u = uniform() * total, k = 0
            while k < components.count - 1 && u >= components[k].weight { u -= components[k].weight; k += 1 }
            labels.append(k)
            for j in components[k].mean.indices { points.append(components[k].mean[j] + components[k].std[j] * normal()) }
        }
        return (points, labels)
    }
}

enum Statistics {
    /// The energy distance 2E|X−Y| − E|X−X'| − E|Y−Y'| between two samples ([n × D]),
    /// a metric on distributions (zero iff they are equal).
    static func energyDistance(_ x: [Double], _ y: [Double], dimension d: Int) -> Double {
        func meanDistance(_ a: [Double], _ b: [Double], same: Bool) -> Double {
            let na = a.count / d, nb = b.count / d
            var total = 0.0, count = 0
            for i in 0..<na {
                for j in (same ? i + 1 : 0)..<nb {
                    var s = 0.0
                    for k in 0..<d { let t = a[i * d + k] - b[j * d + k]; s += t * t }
                    total += s.squareRoot()
                    count += 1
                }
            }
            return total / Double(count)
        }
        return 2 * meanDistance(x, y, same: false) - meanDistance(x, x, same: true) - meanDistance(y, y, same: true)
    }

    /// Fraction of points nearest (in the component's standardised distance) to each component.
    static func componentFractions(_ x: [Double], _ components: [GaussianMixture.Component]) -> [Double] {
        let d = components[0].mean.count, n = x.count / d
        var counts = [Double](repeating: 0, count: components.count)
        for i in 0..<n {
            var best = 0, bestDistance = Double.infinity
            for (k, c) in components.enumerated() {
                var s = 0.0
                for j in 0..<d { let z = (x[i * d + j] - c.mean[j]) / c.std[j]; s += z * z }
                if s < bestDistance { bestDistance = s; best = k }
            }
            counts[best] += 1
        }
        return counts.map { $0 / Double(n) }
    }
}

extension SamplingEngine {
    /// Blocking calls for tests: they wait on Dispatch, not on the Swift concurrency
    /// pool, so tests running in parallel cannot starve each other.
    func sampleNow(_ model: ScoreModel, _ options: SampleOptions, control: JobControl = JobControl()) throws(SamplingError) -> SampleResult {
        try sampleBlocking(model, options, control: control)
    }
    func likelihoodNow(_ model: ScoreModel, _ options: LikelihoodOptions) throws(SamplingError) -> LikelihoodResult {
        try likelihoodBlocking(model, options)
    }
    func encodeNow(_ model: ScoreModel, _ options: EncodeOptions) throws(SamplingError) -> EncodeResult {
        try encodeBlocking(model, options)
    }
}
