import Foundation
import Testing
import ScoreCore

@Suite("Score networks")
struct NetworkTests {
    static let sdes: [SDE] = [SDE(kind: .vp), SDE(kind: .subvp), SDE(kind: .ve), SDE(kind: .vePower)]

    /// Central finite differences of a scalar function (step h, error O(h²)).
    static func gradient(_ f: ([Double]) -> Double, at x: [Double], h: Double) -> [Double] {
        x.indices.map { j in
            var plus = x, minus = x
            plus[j] += h
            minus[j] -= h
            return (f(plus) - f(minus)) / (2 * h)
        }
    }

    static let mixture: [GaussianMixture.Component] = [
        .init(weight: 0.5, mean: [-2, 0, 1], std: [0.3, 0.3, 0.3]),
        .init(weight: 1.5, mean: [2, 0.5, -1], std: [0.5, 0.2, 0.8]),
        .init(weight: 1.0, mean: [0, -1.5, 0], std: [1.0, 0.4, 0.25]),
    ]

    @Test("gmm score equals finite differences of its exact log p_t", arguments: sdes)
    func gmmScore(_ sde: SDE) {
        let gmm = GaussianMixture(sde: sde, components: Self.mixture)
        let workspace = ScoreWorkspace(network: gmm, rows: 4)
        var rng = SplitMix64(seed: 7)
        for t in [1e-3, 0.05, 0.3, 0.7, 1.0] {
            let spread = max(2.0, sde.marginalStd(t))
            for _ in 0..<4 {
                let x = (0..<3).map { _ in rng.normal() * spread }
                // h scaled to the marginal's width keeps truncation and rounding small.
                let width = min(0.2, sde.marginalStd(t) + sde.meanCoefficient(t) * 0.2)
                let fd = Self.gradient({ gmm.logDensity($0, t: t) }, at: x, h: 1e-4 * width)
                let exact = gmm.score(x, t: t)
                #expect(maxRowRelativeError(exact, fd, dimension: 3) < 1e-6, "\(sde.kind) t=\(t) x=\(x)")
                // The batched Float32 path gives the same score to Float32 precision.
                let batched = workspace.score(x.map { Float($0) }, times: [t]).map(Double.init)
                #expect(maxRowRelativeError(batched, exact, dimension: 3) < 1e-5, "\(sde.kind) t=\(t)")
            }
        }
    }

    @Test("gmm weights are normalised and p_0 is the mixture density")
    func gmmDensity() {
        let gmm = GaussianMixture(sde: SDE(kind: .vp), components: Self.mixture)
        #expect(abs(gmm.weights.reduce(0, +) - 1) < 1e-15)
        #expect(abs(gmm.weights[1] - 0.5) < 1e-15)
        let x = [0.1, -0.2, 0.3]
        var expected = 0.0
        for (c, w) in zip(Self.mixture, gmm.weights) {
            var p = w
            for j in 0..<3 {
                let z = (x[j] - c.mean[j]) / c.std[j]
                p *= exp(-0.5 * z * z) / (c.std[j] * (2 * Double.pi).squareRoot())
            }
            expected += p
        }
        let logP0 = x.withUnsafeBufferPointer { gmm.logDensity($0.baseAddress!, a: 1, sigma: 0) }
        #expect(abs(logP0 - log(expected)) < 1e-12)
    }

    @Test("empirical score equals finite differences of its exact log p_t", arguments: sdes)
    func empiricalScore(_ sde: SDE) {
        var rng = SplitMix64(seed: 99)
        let d = 2
        let points = (0..<40 * d).map { _ in rng.normal() }
        let net = Empirical(sde: sde, dimension: d, points: points)
        let workspace = ScoreWorkspace(network: net, rows: 8)
        for t in [0.02, 0.2, 0.6, 1.0] {
            let s = sde.marginalStd(t)
            let xs = (0..<5).map { _ in (0..<d).map { _ in rng.normal() * max(1, s) } }
            let scores = workspace.score(xs.flatMap { $0.map { Float($0) } }, times: Array(repeating: t, count: 5))
            // Bitwise independent of the batch (fixed-size dgemm row groups).
            let firstAlone = workspace.score(xs[0].map { Float($0) }, times: [t])
            #expect(firstAlone == Array(scores[0..<d]))
            for (i, x) in xs.enumerated() {
                // Use the Float32-rounded point, which is what the network saw.
                let xr = x.map { Double(Float($0)) }
                let fd = Self.gradient({ net.logDensity($0, t: t) }, at: xr, h: 1e-4 * s)
                let got = scores[(i * d)..<((i + 1) * d)].map(Double.init)
                #expect(maxRowRelativeError(got, fd, dimension: d) < 1e-5, "\(sde.kind) t=\(t)")
            }
        }
    }

    /// The float64 references come from Tests/Fixtures/make_mlp_fixtures.py (numpy,
    /// safetensors written by the reference library). The bound is the 1e-5,
    /// as row-wise relative error in the max norm (Float32 network vs Float64 truth).
    @Test("mlp forward matches the numpy float64 fixtures",
          arguments: ["mlp-vp", "mlp-ve-module", "mlp-subvp", "mlp-vepower"])
    func mlpFixture(_ fixture: String) throws {
        let model = try ScoreModel.load(directory: fixturesDirectory.appendingPathComponent(fixture).path)
        let expected = try readExpected(fixture)
        let got = model.scores(dataSpace: expected.x, times: expected.t).map(Double.init)
        let error = maxRowRelativeError(got, expected.score, dimension: model.data.dimension)
        #expect(error <= 1e-5, "max row relative error \(error)")
    }

    @Test("Jacobian-vector products match finite differences of the score",
          arguments: ["mlp-vp", "mlp-ve-module", "gmm"])
    func jvp(_ which: String) throws {
        let network: any ScoreNetwork
        if which == "gmm" {
            network = GaussianMixture(sde: SDE(kind: .subvp), components: Self.mixture)
        } else {
            network = try ScoreModel.load(directory: fixturesDirectory.appendingPathComponent(which).path).network
        }
        let d = network.dimension, n = 6, p = 3
        var rng = SplitMix64(seed: 11)
        let x = (0..<n * d).map { _ in Float(rng.normal()) }
        let t = (0..<n).map { _ in 0.05 + 0.9 * rng.uniform() }
        let v = (0..<n * p * d).map { _ in Float(rng.normal()) }
        let workspace = ScoreWorkspace(network: network, rows: n, tangents: p)
        var score = [Float](repeating: 0, count: n * d), jv = [Float](repeating: 0, count: n * p * d)
        x.withUnsafeBufferPointer { xp in t.withUnsafeBufferPointer { tp in v.withUnsafeBufferPointer { vp in
            score.withUnsafeMutableBufferPointer { sp in jv.withUnsafeMutableBufferPointer { jp in
                workspace.jvp(xp.baseAddress!, times: tp.baseAddress!, rows: n, tangents: p, v: vp.baseAddress!,
                              score: sp.baseAddress!, jv: jp.baseAddress!)
            } }
        } } }
        #expect(score == workspace.score(x, times: t))
        // Central differences of the Float32 network along each tangent: step 1e-2
        // balances truncation (O(h²)) against Float32 rounding (O(ε/h)).
        let h: Float = 1e-2
        for r in 0..<n {
            for q in 0..<p {
                let vq = Array(v[((r * p + q) * d)..<((r * p + q + 1) * d)])
                let xr = Array(x[(r * d)..<((r + 1) * d)])
                let plus = workspace.score(zip(xr, vq).map { $0 + h * $1 }, times: [t[r]])
                let minus = workspace.score(zip(xr, vq).map { $0 - h * $1 }, times: [t[r]])
                let fd = zip(plus, minus).map { Double($0 - $1) / Double(2 * h) }
                let got = jv[((r * p + q) * d)..<((r * p + q + 1) * d)].map(Double.init)
                #expect(maxRowRelativeError(got, fd, dimension: d) < 2e-3, "\(which) row \(r) tangent \(q)")
            }
        }
    }

    @Test("mlp rows are independent of the batch they are evaluated in, and workspaces are reusable")
    func mlpBatchIndependence() throws {
        let model = try ScoreModel.load(directory: fixturesDirectory.appendingPathComponent("mlp-vp").path)
        let d = model.data.dimension
        var rng = SplitMix64(seed: 3)
        let n = 37
        let x = (0..<n * d).map { _ in Float(rng.normal()) }
        let t = (0..<n).map { _ in 1e-3 + rng.uniform() * (1 - 1e-3) }
        let big = ScoreWorkspace(network: model.network, rows: 64)
        let all = big.score(x, times: t)
        let again = big.score(x, times: t)
        #expect(all == again)
        // Bitwise: GEMMs run in fixed row groups (BLAS.rowGroup), so a row's score
        // does not depend on how many rows share its batch or where it sits.
        let one = ScoreWorkspace(network: model.network, rows: 1)
        for r in [0, 17, 36] {
            let single = one.score(Array(x[(r * d)..<((r + 1) * d)]), times: [t[r]])
            #expect(single == Array(all[(r * d)..<((r + 1) * d)]), "row \(r)")
        }
        for m in [2, 5, 9, 33] {
            let part = big.score(Array(x[(3 * d)..<((3 + m) * d)]), times: Array(t[3..<(3 + m)]))
            #expect(part == Array(all[(3 * d)..<((3 + m) * d)]), "rows 3..<\(3 + m)")
        }
        #expect(all.allSatisfy { $0.isFinite })
    }

    @Test("scores from a precomputed time table equal scores computed from the times, bit for bit")
    func mlpTimeTable() throws {
        for fixture in ["mlp-vp", "mlp-ve-module"] {
            let model = try ScoreModel.load(directory: fixturesDirectory.appendingPathComponent(fixture).path)
            let net = model.network, d = net.dimension
            var rng = SplitMix64(seed: 9)
            let grid = (0..<11).map { 1 - Double($0) * 0.099 }  // 11 times, not a multiple of the row group
            let table = try #require(net.timeTable(grid, maxBytes: 1 << 20))
            #expect(net.timeTable(grid, maxBytes: 16) == nil, "a table over maxBytes is refused")
            let n = 7
            let x = (0..<(n * d)).map { _ in Float(rng.normal()) }
            let slots: [Int32] = [3, 3, 0, 10, 5, 3, 7]  // repeated, out of order
            let ws = ScoreWorkspace(network: net, rows: n)
            var fromTable = [Float](repeating: 0, count: n * d)
            fromTable.withUnsafeMutableBufferPointer { out in
                ws.score(x, table: table, slots: slots, rows: n, into: out.baseAddress!)
            }
            let fromTimes = ws.score(x, times: slots.map { grid[Int($0)] })
            #expect(fromTable == fromTimes, "\(fixture)")
            #expect(fromTable.allSatisfy { $0.isFinite })
        }
    }
}
