import Foundation
import ScoreCore

/// A training set: n points of D values each, in data space (no scaling applied).
public struct Dataset: Sendable {
    /// The points, row-major (count × dimension).
    public let points: [Double]
    /// Values per point, the product of `shape`.
    public let dimension: Int
    /// The shape of one point: `[D]` for vectors, e.g. `[8, 8]` for images.
    public let shape: [Int]
    /// Number of points.
    public var count: Int { points.count / dimension }

    /// What `load(path:)` found wrong with a file (parse errors of a row come as
    /// `PointsFile.ReadError`).
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let message: String
        public var description: String { "\(path): \(message)" }
    }

    /// A data set of `points.count / shape.product` points of the given shape.
    public init(points: [Double], shape: [Int]) {
        precondition(!shape.isEmpty && shape.allSatisfy { $0 > 0 }, "shape must be non-empty and positive")
        let dimension = shape.reduce(1, *)
        precondition(points.count % dimension == 0, "\(points.count) values are not rows of \(dimension)")
        self.points = points
        self.dimension = dimension
        self.shape = shape
    }

    /// A data set of vectors of `dimension` values.
    public init(points: [Double], dimension: Int) {
        self.init(points: points, shape: [dimension])
    }

    /// The `dimension` values of point `i`.
    public subscript(i: Int) -> ArraySlice<Double> {
        points[i * dimension ..< (i + 1) * dimension]
    }

    /// Reads points with `PointsFile`'s parsers, the format by extension:
    /// - `.csv`: comma-separated rows (a non-numeric first line is a header); D is the
    ///   number of columns of the first numeric line, shape `[D]`;
    /// - `.npy`: an array of shape `[N, …]`; each point has shape `[…]` (e.g. `[N, 8, 8]`
    ///   gives shape `[8, 8]`; a 1-D array `[N]` gives N points of shape `[1]`);
    /// - anything else: JSON `[[...], ...]`; the shape is the nesting of the first point
    ///   (`[[1, 2], [3, 4]]` per point gives `[2, 2]`, a flat row of D numbers `[D]`).
    /// Every row must have D finite values; a file without points is an error.
    public static func load(path: String) throws -> Dataset {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(path: path, message: "no such file or not readable")
        }
        let bytes = [UInt8](data)
        let lower = path.lowercased()
        let dataset: Dataset
        if lower.hasSuffix(".npy") {
            let array: NPY.Array
            do { array = try NPY.read(bytes) } catch {
                throw LoadError(path: path, message: error.description)
            }
            guard let n = array.shape.first else {
                throw LoadError(path: path, message: "a 0-dimensional array holds no points")
            }
            let shape = array.shape.count == 1 ? [1] : Array(array.shape.dropFirst())
            guard shape.allSatisfy({ $0 > 0 }) else {
                throw LoadError(path: path, message: "points of shape \(shape) hold no values")
            }
            guard n > 0 else { throw LoadError(path: path, message: "no data points") }
            guard array.values.allSatisfy(\.isFinite) else {
                throw LoadError(path: path, message: "values must be finite")
            }
            dataset = Dataset(points: array.values, shape: shape)
        } else if lower.hasSuffix(".csv") {
            guard let d = csvDimension(bytes) else { throw LoadError(path: path, message: "no data points") }
            dataset = Dataset(points: try PointsFile.readCSV(bytes, path: path, dimension: d), shape: [d])
        } else {
            let shape = try jsonPointShape(data, path: path)
            let d = shape.reduce(1, *)
            dataset = Dataset(points: try PointsFile.readJSON(bytes, path: path, dimension: d), shape: shape)
        }
        guard dataset.count > 0 else { throw LoadError(path: path, message: "no data points") }
        return dataset
    }

    /// `count` points of a toy set (indices 0 ..< count, see `ToyDataset.sample`).
    public static func toy(_ kind: ToyDataset, count: Int, seed: UInt64) -> Dataset {
        Dataset(points: kind.sample(count: count, seed: seed), shape: [2])
    }

    /// The points at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        var out: [Double] = []
        out.reserveCapacity(indices.count * dimension)
        for i in indices {
            precondition(i >= 0 && i < count, "point index \(i) out of range 0..<\(count)")
            out += self[i]
        }
        return Dataset(points: out, shape: shape)
    }

    /// Splits into `heldOut` test points and `count − heldOut` training points.
    ///
    /// Point i gets the key (u₀, u₁, i) with u₀, u₁ uniforms from
    /// `NoiseKey(seed: seed, index: i, step: 2, stream: .data)`; the `heldOut` points with
    /// the smallest keys form the test part (a uniformly random subset), the others the
    /// training part. Both keep the points' original order. The same data and seed always
    /// give the same split.
    public func split(heldOut: Int, seed: UInt64) -> (train: Dataset, test: Dataset) {
        precondition(heldOut >= 0 && heldOut <= count, "heldOut must be in 0...\(count)")
        let n = count
        precondition(n == 0 || UInt64(n - 1) <= NoiseKey.maxIndex)
        var keys = [(Double, Double)](repeating: (0, 0), count: n)
        withUnsafeTemporaryAllocation(of: Double.self, capacity: 2) { u in
            u.initialize(repeating: 0)
            for i in 0 ..< n {
                Noise.uniform(NoiseKey(seed: seed, index: UInt64(i), step: DatasetDrawStep.split,
                                       stream: .data), into: u)
                keys[i] = (u[0], u[1])
            }
        }
        let order = (0 ..< n).sorted { a, b in
            keys[a].0 != keys[b].0 ? keys[a].0 < keys[b].0
                : keys[a].1 != keys[b].1 ? keys[a].1 < keys[b].1 : a < b
        }
        let test = order[..<heldOut].sorted()
        let train = order[heldOut...].sorted()
        return (subset(train), subset(test))
    }

    /// Per-dimension mean and standard deviation (population: divided by n, two-pass).
    /// An empty data set gives zeros.
    public func statistics() -> (mean: [Double], std: [Double]) {
        let n = count
        var mean = [Double](repeating: 0, count: dimension)
        var variance = [Double](repeating: 0, count: dimension)
        guard n > 0 else { return (mean, variance) }
        points.withUnsafeBufferPointer { p in
            for i in 0 ..< n {
                for j in 0 ..< dimension { mean[j] += p[i * dimension + j] }
            }
            for j in 0 ..< dimension { mean[j] /= Double(n) }
            for i in 0 ..< n {
                for j in 0 ..< dimension {
                    let d = p[i * dimension + j] - mean[j]
                    variance[j] += d * d
                }
            }
        }
        return (mean, variance.map { ($0 / Double(n)).squareRoot() })
    }

    /// Columns of the first numeric line of CSV text, skipping blank lines and a header
    /// (the same rules as `PointsFile.readCSV`); nil when there is no numeric line.
    private static func csvDimension(_ bytes: [UInt8]) -> Int? {
        let text = String(decoding: bytes, as: UTF8.self)
        for (lineNumber, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if fields.allSatisfy(\.isEmpty) { continue }
            if fields.allSatisfy({ Double($0) != nil }) { return fields.count }
            if lineNumber == 0 { continue }  // header row
            return fields.count  // not numeric: readCSV reports the line
        }
        return nil
    }

    /// The nested shape of the first point of a JSON `[[...], ...]` document.
    private static func jsonPointShape(_ data: Data, path: String) throws -> [Int] {
        let root: Any
        do { root = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw LoadError(path: path, message: "invalid JSON: \(error.localizedDescription)")
        }
        guard let rows = root as? [Any] else {
            throw LoadError(path: path, message: "expected an array of points [[...], ...]")
        }
        guard var node = rows.first else { throw LoadError(path: path, message: "no data points") }
        var shape: [Int] = []
        while let items = node as? [Any] {
            guard let first = items.first else {
                throw LoadError(path: path, message: "point 0 has an empty array")
            }
            shape.append(items.count)
            node = first
        }
        return shape.isEmpty ? [1] : shape
    }
}
