import Foundation
import Testing
import ScoreCore
@testable import ScoreTraining

/// Models/data, found from this file's path (Tests/ScoreTrainingTests/ → ../../Models/data).
private let modelsDataDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Models").appendingPathComponent("data")

/// Mean and standard deviation per coordinate of `points` (n × 2).
private func moments(_ points: [Double]) -> (mean: SIMD2<Double>, std: SIMD2<Double>) {
    let stats = Dataset(points: points, dimension: 2).statistics()
    return (SIMD2(stats.mean[0], stats.mean[1]), SIMD2(stats.std[0], stats.std[1]))
}

/// Σ exp(logDensity) · h² over the cell midpoints of [−5, 5]² with step h = 0.01.
private func gridIntegral(_ kind: ToyDataset) -> Double {
    let h = 0.01
    let n = 1000
    var total = 0.0
    for a in 0 ..< n {
        let x = -5 + (Double(a) + 0.5) * h
        for b in 0 ..< n {
            let y = -5 + (Double(b) + 0.5) * h
            total += exp(kind.logDensity(x, y)!)
        }
    }
    return total * h * h
}

@Suite struct DatasetTests {
    /// Expected mean and standard deviation per coordinate, from each definition
    /// (see the `ToyDataset` case comments).
    static let expectedMoments: [ToyDataset: (mean: SIMD2<Double>, std: SIMD2<Double>)] = {
        let pi = Double.pi
        // swissroll, t ~ U[1.5π, 4.5π]: E[t cos t] = 2, E[t sin t] = 2/(3π), E[t²] = 9.75π²,
        // E[t² cos 2t] = −0.5; unit noise; all divided by 5.
        let et2 = 9.75 * pi * pi
        let swissVarX = ((et2 - 0.5) / 2 - 4 + 1) / 25
        let swissVarY = ((et2 + 0.5) / 2 - pow(2 / (3 * pi), 2) + 1) / 25
        // 8gaussians: centres at radius R on 8 equally spaced angles, so E[cₓ²] = R²/2.
        let r = ToyDataset.eightGaussiansRadius, sigma = ToyDataset.eightGaussiansStd
        let gaussStd = (r * r / 2 + sigma * sigma).squareRoot()
        return [
            // moons: E[y] = ½((4/π − 0.2) + (0.8 − 4/π)); Var = (3 + 0.04, 2.25 − 4/π + 0.04).
            .moons: (SIMD2(0, 0.3), SIMD2(3.04.squareRoot(), (2.29 - 4 / pi).squareRoot())),
            // circles: E[r²]/2 = (9 + 2.25)/4, noise 0.24².
            .circles: (SIMD2(0, 0), SIMD2(repeating: (2.8125 + 0.0576).squareRoot())),
            .swissroll: (SIMD2(0.4, 2 / (15 * pi)), SIMD2(swissVarX.squareRoot(), swissVarY.squareRoot())),
            .eightGaussians: (SIMD2(0, 0), SIMD2(repeating: gaussStd)),
            // checkerboard: both marginals uniform on [−4, 4): variance 64/12.
            .checkerboard: (SIMD2(0, 0), SIMD2(repeating: (64.0 / 12).squareRoot())),
            // pinwheel: E|p|² = 4(E f₀² + E f₁²) = 4(1.09 + 0.01), isotropic by 5-fold symmetry.
            .pinwheel: (SIMD2(0, 0), SIMD2(repeating: 2.2.squareRoot())),
        ]
    }()

    @Test(arguments: ToyDataset.allCases)
    func toySetsAreDeterministicAndIndependentOfBatching(_ kind: ToyDataset) {
        let seed: UInt64 = 0x5EED_0001
        let full = kind.sample(count: 20, seed: seed)
        #expect(full.count == 40)
        #expect(full == kind.sample(count: 20, seed: seed))
        #expect(kind.sample(count: 10, seed: seed, offset: 5) == Array(full[10 ..< 30]))
        #expect(kind.sample(count: 1, seed: seed, offset: 19) == Array(full[38 ..< 40]))
        #expect(kind.sample(count: 0, seed: seed).isEmpty)
        #expect(kind.sample(count: 20, seed: seed + 1) != full)
        #expect(full.allSatisfy { $0.isFinite })
        let dataset = Dataset.toy(kind, count: 20, seed: seed)
        #expect(dataset.points == full && dataset.count == 20 && dataset.dimension == 2 && dataset.shape == [2])
    }

    @Test(arguments: ToyDataset.allCases)
    func toySetsHaveTheDefinedMeanAndSpread(_ kind: ToyDataset) throws {
        let expected = try #require(Self.expectedMoments[kind])
        let got = moments(kind.sample(count: 20_000, seed: 11))
        for j in 0 ..< 2 {
            // Standard error of the mean is std/√20000 ≈ 0.007·std; of the std well under 1%.
            #expect(abs(got.mean[j] - expected.mean[j]) < 0.04 * expected.std[j],
                    "\(kind) mean[\(j)] \(got.mean[j]) vs \(expected.mean[j])")
            #expect(abs(got.std[j] / expected.std[j] - 1) < 0.03,
                    "\(kind) std[\(j)] \(got.std[j]) vs \(expected.std[j])")
        }
    }

    @Test func rawValuesAreTheLiteratureNames() {
        #expect(ToyDataset.allCases.map(\.rawValue)
            == ["moons", "circles", "swissroll", "8gaussians", "checkerboard", "pinwheel"])
        #expect(ToyDataset(rawValue: "8gaussians") == .eightGaussians)
        #expect(NoiseStream.data.rawValue == 32)
    }

    @Test func eightGaussiansSamplesSitOnTheirCentresEvenly() {
        let n = 16_000
        let points = ToyDataset.eightGaussians.sample(count: n, seed: 3)
        let centres = ToyDataset.eightGaussiansCentres
        let sigma = ToyDataset.eightGaussiansStd
        #expect(abs(sigma - 0.5 / 1.414) < 1e-15)
        for c in centres { #expect(abs((c.x * c.x + c.y * c.y).squareRoot() - 4 / 1.414) < 1e-12) }
        var counts = [Int](repeating: 0, count: 8)
        var farthest = 0.0
        for i in 0 ..< n {
            let p = SIMD2(points[2 * i], points[2 * i + 1])
            let distances = centres.map { (($0 - p) * ($0 - p)).sum().squareRoot() }
            let nearest = distances.indices.min { distances[$0] < distances[$1] }!
            counts[nearest] += 1
            farthest = max(farthest, distances[nearest])
        }
        // P(|z| > 5) = exp(−12.5) ≈ 4e-6 for a 2-D standard normal.
        #expect(farthest < 5 * sigma, "farthest point \(farthest / sigma) std from its centre")
        // Each count is Binomial(16000, 1/8): sd ≈ 42, i.e. 0.0026 of n.
        for c in counts { #expect(abs(Double(c) / Double(n) - 0.125) < 0.015, "counts \(counts)") }
    }

    @Test func eightGaussiansDensityIsTheMixtureAndIntegratesToOne() throws {
        let kind = ToyDataset.eightGaussians
        let sigma = ToyDataset.eightGaussiansStd
        // At a centre the other components are ≥ 2R·sin(π/8) ≈ 6σ away: negligible.
        let c = ToyDataset.eightGaussiansCentres[2]
        let atCentre = try #require(kind.logDensity(c.x, c.y))
        #expect(abs(atCentre - (-log(8.0) - log(2 * Double.pi * sigma * sigma))) < 1e-6)
        // Far away it stays finite (log-sum-exp), and is symmetric.
        let far = try #require(kind.logDensity(100, 0))
        #expect(far.isFinite && far < -10_000)
        let a = try #require(kind.logDensity(0.3, 1.7)), b = try #require(kind.logDensity(-0.3, -1.7))
        #expect(abs(a - b) < 1e-9)
        #expect(abs(gridIntegral(kind) - 1) < 1e-2)
    }

    @Test func checkerboardSamplesLieOnTheBlackSquaresAndDensityIntegratesToOne() throws {
        let kind = ToyDataset.checkerboard
        let n = 20_000
        let points = kind.sample(count: n, seed: 5)
        var squareCounts = [Int: Int]()
        for i in 0 ..< n {
            let x = points[2 * i], y = points[2 * i + 1]
            let logp = try #require(kind.logDensity(x, y))
            #expect(logp == -log(32.0), "sample (\(x), \(y)) off the black squares")
            squareCounts[Int((x / 2).rounded(.down)) * 10 + Int((y / 2).rounded(.down)), default: 0] += 1
        }
        // Uniform over the 8 black squares.
        #expect(squareCounts.count == 8)
        for c in squareCounts.values { #expect(abs(Double(c) / Double(n) - 0.125) < 0.015) }
        #expect(kind.logDensity(1, 1) == -log(32.0))     // square (0, 0): black
        #expect(kind.logDensity(3, 1) == -Double.infinity)  // square (1, 0): white
        #expect(kind.logDensity(-1, -1) == -log(32.0))   // square (−1, −1): black
        #expect(kind.logDensity(4.5, 0) == -Double.infinity)  // off the board
        #expect(abs(gridIntegral(kind) - 1) < 1e-2)
    }

    @Test func otherToySetsHaveNoClosedFormDensity() {
        for kind in [ToyDataset.moons, .circles, .swissroll, .pinwheel] {
            #expect(kind.logDensity(0, 0) == nil)
        }
    }

    @Test func digitsLoadAs1797PointsOf64IntegersIn0To16() throws {
        let path = modelsDataDirectory.appendingPathComponent("digits.csv").path
        let digits = try Dataset.load(path: path)
        #expect(digits.count == 1797)
        #expect(digits.dimension == 64)
        #expect(digits.shape == [64])
        #expect(digits.points.count == 1797 * 64)
        #expect(digits.points.allSatisfy { $0 >= 0 && $0 <= 16 && $0 == $0.rounded() })
        #expect(digits.points.max() == 16 && digits.points.min() == 0)
        let labels = try String(contentsOfFile: modelsDataDirectory.appendingPathComponent("digits-labels.csv").path,
                                encoding: .utf8)
            .split(whereSeparator: \.isNewline).map { Int($0) }
        #expect(labels.count == 1797)
        #expect(labels.allSatisfy { $0 != nil && (0 ... 9).contains($0!) })
    }

    @Test func loadReadsCSVWithHeaderNPYShapesAndJSON() throws {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("scoreserve-dataset-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        let csv = dir.appendingPathComponent("points.csv")
        try Data("a,b,c\n1,2,3\n\n4, 5, 6\n".utf8).write(to: csv)
        let fromCSV = try Dataset.load(path: csv.path)
        #expect(fromCSV.points == [1, 2, 3, 4, 5, 6] && fromCSV.shape == [3] && fromCSV.count == 2)

        let ragged = dir.appendingPathComponent("ragged.csv")
        try Data("1,2,3\n4,5\n".utf8).write(to: ragged)
        #expect(throws: (any Error).self) { try Dataset.load(path: ragged.path) }

        let npy = dir.appendingPathComponent("images.npy")
        let values = (0 ..< 3 * 4 * 2).map(Float.init)
        try Data(NPY.encode(float32: values, shape: [3, 4, 2])).write(to: npy)
        let fromNPY = try Dataset.load(path: npy.path)
        #expect(fromNPY.shape == [4, 2] && fromNPY.dimension == 8 && fromNPY.count == 3)
        #expect(fromNPY.points == values.map(Double.init))

        let json = dir.appendingPathComponent("points.json")
        try Data("[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]".utf8).write(to: json)
        let fromJSON = try Dataset.load(path: json.path)
        #expect(fromJSON.shape == [2, 2] && fromJSON.count == 2 && fromJSON.points == (1 ... 8).map(Double.init))

        let empty = dir.appendingPathComponent("empty.csv")
        try Data("x,y\n".utf8).write(to: empty)
        #expect(throws: (any Error).self) { try Dataset.load(path: empty.path) }
        #expect(throws: (any Error).self) { try Dataset.load(path: dir.appendingPathComponent("missing.csv").path) }
    }

    @Test func splitIsADeterministicPartition() {
        let n = 1000
        // Point i is (i, −i), so every point is identifiable.
        let data = Dataset(points: (0 ..< n).flatMap { [Double($0), -Double($0)] }, dimension: 2)
        let (train, test) = data.split(heldOut: 200, seed: 9)
        #expect(train.count == 800 && test.count == 200)
        #expect(train.shape == [2] && test.shape == [2])
        let trainIDs = (0 ..< train.count).map { Int(train.points[2 * $0]) }
        let testIDs = (0 ..< test.count).map { Int(test.points[2 * $0]) }
        #expect(Set(trainIDs).count == 800 && Set(testIDs).count == 200)
        #expect(Set(trainIDs).isDisjoint(with: testIDs))
        #expect(Set(trainIDs).union(testIDs) == Set(0 ..< n))
        #expect(trainIDs == trainIDs.sorted() && testIDs == testIDs.sorted())  // original order kept
        for i in 0 ..< train.count { #expect(train.points[2 * i + 1] == -train.points[2 * i]) }

        let again = data.split(heldOut: 200, seed: 9)
        #expect(again.train.points == train.points && again.test.points == test.points)
        let other = data.split(heldOut: 200, seed: 10)
        #expect(other.test.points != test.points)
        // A random subset, not a block: held-out points spread over the whole range.
        #expect(testIDs.first! < 100 && testIDs.last! > 900)

        #expect(data.split(heldOut: 0, seed: 1).test.count == 0)
        #expect(data.split(heldOut: n, seed: 1).train.count == 0)
        #expect(data.split(heldOut: n, seed: 1).test.points == data.points)
    }

    @Test func statisticsArePerDimensionMeanAndPopulationStd() {
        let data = Dataset(points: [1, 10, 3, 10, 5, 10, 7, 10], dimension: 2)
        let stats = data.statistics()
        #expect(stats.mean == [4, 10])
        #expect(abs(stats.std[0] - 5.0.squareRoot()) < 1e-12 && stats.std[1] == 0)
        let digitsLike = Dataset(points: [Double](repeating: 2, count: 6), shape: [1, 3])
        #expect(digitsLike.statistics().mean == [2, 2, 2] && digitsLike.dimension == 3)
    }
}
