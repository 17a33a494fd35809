import ArgumentParser
import Foundation
import ScoreCore
import ScoreJSON

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw samples as a PNG: a scatter plot of 2-D points, or a grid of images.",
        discussion: """
            --samples takes the JSON answer of `scoreserve sample` (or of the sample
            endpoint), or points as JSON ([[...], ...]), CSV or .npy. Points of 2 values
            make a scatter plot: the samples in red over the --data points in light blue,
            on axes fitted to the 0.5th–99.5th percentiles of both, or two panels on the
            same axes with --side-by-side, or next to the exact density of an analytic
            model with --density (a `gmm` network). Other points make a grid of images (--shape
            H,W, 1,H,W or 3,H,W; taken from the file when it says, square gray images
            when D is a perfect square); with --data the data's grid is drawn to the right.
            The picture has no text; --title goes into the PNG's metadata.

            Examples:
              scoreserve sample Models/gmm-demo --n 2000 --output s.json
              scoreserve plot --samples s.json --data data.npy --output s.png
              scoreserve plot --samples s.json --data data.csv --side-by-side
              scoreserve plot --samples s.json --density Models/gmm-demo --output samples.png
              scoreserve plot --samples digits.npy --shape 8,8 --range 0,16 --columns 10 --scale 4
            """)

    @Option(help: "Samples: the JSON answer of sample, or points as JSON, CSV or .npy.")
    var samples: String

    @Option(help: "Reference points (JSON, CSV or .npy) to draw with the samples.")
    var data: String?

    @Option(help: "Shape of one point as an image: H,W, 1,H,W or 3,H,W (default: from the file).")
    var shape: String?

    @Option(help: "The PNG to write (default: the samples file with the extension .png).")
    var output: String?

    @Option(help: "Grid: images per row.")
    var columns: Int = 10

    @Option(help: "Grid: screen pixels per image pixel.")
    var scale: Int = 4

    @Option(help: "Grid: the values drawn black and white, as LOW,HIGH (default: the smallest and largest value).")
    var range: String?

    @Option(help: "Grid: images drawn from each file, the first ones.")
    var maxImages: Int = 100

    @Flag(help: "Scatter: samples and data in two panels side by side instead of one over the other.")
    var sideBySide = false

    @Option(help: "Scatter: width of the picture in pixels (default 640, 1280 side by side).")
    var width: Int?

    @Option(help: "Scatter: height of the picture in pixels.")
    var height: Int = 640

    @Option(help: "Scatter: a model directory with an exact density (a gmm network): its data density is drawn beside the samples, on the same axes.")
    var density: String?

    @Option(help: "A title, stored in the PNG's metadata.")
    var title: String?

    func run() throws {
        let s = try readPoints(samples, flag: "--samples")
        let d = try data.map { try readPoints($0, flag: "--data") }
        if let d, d.dimension != s.dimension {
            throw ValidationError("--data has points of \(d.dimension) values, --samples of \(s.dimension)")
        }
        if density != nil, d != nil { throw ValidationError("--density and --data are exclusive: draw one beside the samples") }
        let imageShape = try resolveShape(s)
        if density != nil, imageShape != nil { throw ValidationError("--density draws 2-D points; these have \(s.dimension) values") }
        let png: [UInt8]
        let summary: String
        if let imageShape {
            png = try grid(s, d, imageShape: imageShape)
            summary = "a grid of \(min(s.count, maxImages)) images of shape \(imageShape)"
        } else {
            png = try scatter(s, d)
            summary = "a scatter plot of \(s.count) samples" + (d.map { " and \($0.count) data points" } ?? "")
        }
        let path = output ?? URL(fileURLWithPath: samples).deletingPathExtension().appendingPathExtension("png").path
        if path == samples || path == data { throw ValidationError("--output \(path) would overwrite an input") }
        guard FileManager.default.createFile(atPath: path, contents: Data(png)) else {
            throw ValidationError("cannot write \(path)")
        }
        print("wrote \(path): \(summary)")
    }

    /// The image shape for a grid, or nil for a scatter plot.
    private func resolveShape(_ s: PointSet) throws -> [Int]? {
        if let shape {
            let dims = shape.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ValidationError("--shape: expected positive integers such as 8,8 or 3,32,32, got '\(shape)'")
            }
            let ints = dims.map { $0! }
            guard ints.reduce(1, *) == s.dimension else {
                throw ValidationError("--shape \(shape) holds \(ints.reduce(1, *)) values, the points have \(s.dimension)")
            }
            if ints == [2] { return nil }
            guard ScoreCore.Plot.imageLayout(ints) != nil else {
                throw ValidationError("--shape: expected H,W, 1,H,W or 3,H,W (or 2 for a scatter plot), got '\(shape)'")
            }
            return ints
        }
        if s.dimension == 2 { return nil }
        if let fileShape = s.shape, ScoreCore.Plot.imageLayout(fileShape) != nil { return fileShape }
        let side = Int(Double(s.dimension).squareRoot().rounded())
        guard side * side == s.dimension else {
            throw ValidationError("points of \(s.dimension) values are neither 2-D nor square images: give --shape H,W, 1,H,W or 3,H,W")
        }
        return [side, side]
    }

    private func scatter(_ s: PointSet, _ d: PointSet?) throws -> [UInt8] {
        let w = width ?? (sideBySide ? 1280 : 640)
        guard (16...16384).contains(w), (16...16384).contains(height) else {
            throw ValidationError("--width and --height must be in 16…16384")
        }
        if let density {
            return ScoreCore.Plot.samplesBesideDensity(samples: s.floats, width: width ?? 1280, height: height, title: title,
                                                       logDensity: try dataDensity(density))
        }
        if sideBySide {
            guard let d else { throw ValidationError("--side-by-side needs --data") }
            return ScoreCore.Plot.sideBySide(left: s.floats, right: d.floats, width: w, height: height, title: title)
        }
        return ScoreCore.Plot.scatter(samples: s.floats, data: d?.floats, width: w, height: height, title: title)
    }

    /// log p₀ in data space of the analytic model at `path`.
    private func dataDensity(_ path: String) throws -> (Double, Double) -> Double {
        let model: ScoreModel
        do { model = try ScoreModel.load(directory: path) } catch { throw ValidationError("--density: \(error)") }
        guard let logDensity = model.exactDataLogDensity else {
            throw ValidationError("--density: \(path) has a \(model.network.typeName) network; an exact density needs gmm")
        }
        guard model.data.dimension == 2 else {
            throw ValidationError("--density: \(path) is \(model.data.dimension)-D; the scatter plot is 2-D")
        }
        return { x, y in logDensity([x, y]) }
    }

    private func grid(_ s: PointSet, _ d: PointSet?, imageShape: [Int]) throws -> [UInt8] {
        guard columns > 0 else { throw ValidationError("--columns must be positive") }
        guard (1...64).contains(scale) else { throw ValidationError("--scale must be in 1…64") }
        guard maxImages > 0 else { throw ValidationError("--max-images must be positive") }
        let left = Array(s.floats.prefix(maxImages * s.dimension))
        let right = d.map { Array($0.floats.prefix(maxImages * $0.dimension)) }
        let layout = ScoreCore.Plot.imageLayout(imageShape)!
        let n = max(left.count, right?.count ?? 0) / s.dimension
        let cols = min(columns, n), rows = (n + cols - 1) / cols
        let pixels = (cols * (layout.width * scale + 1)) * (rows * (layout.height * scale + 1)) * (d == nil ? 1 : 2)
        guard pixels <= 1 << 28 else {
            throw ValidationError("the grid would be too large (\(pixels) pixels): lower --scale or --max-images")
        }
        let valueRange: ClosedRange<Float>
        if let range {
            let parts = range.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo.isFinite, hi.isFinite, lo < hi else {
                throw ValidationError("--range: expected LOW,HIGH with LOW < HIGH, got '\(range)'")
            }
            valueRange = lo...hi
        } else {
            valueRange = ScoreCore.Plot.valueRange(left + (right ?? []))
        }
        if let right {
            return ScoreCore.Plot.gridSideBySide(left: left, right: right, shape: imageShape, columns: columns,
                                                 scale: scale, range: valueRange, title: title)
        }
        return ScoreCore.Plot.grid(images: left, shape: imageShape, columns: columns, scale: scale,
                                   range: valueRange, title: title)
    }
}

/// Points read for plotting: rows of `dimension` values, and the shape of one point
/// when the file says (a JSON answer's "shape", nested JSON rows, an .npy's shape).
private struct PointSet {
    var values: [Double]
    var dimension: Int
    var shape: [Int]?
    var count: Int { values.count / dimension }
    var floats: [Float] { values.map { Float($0) } }
}

/// Reads `path` as the JSON answer of sample (an object with "samples" and "shape"),
/// or points as JSON, CSV or .npy, working out the dimension from the file.
private func readPoints(_ path: String, flag: String) throws -> PointSet {
    guard let contents = FileManager.default.contents(atPath: path) else {
        throw ValidationError("\(flag): \(path): no such file or not readable")
    }
    let bytes = [UInt8](contents)
    let lower = path.lowercased()
    var shape: [Int]?
    var values: [Double]
    do {
        if lower.hasSuffix(".npy") {
            let array: NPY.Array
            do { array = try NPY.read(bytes) } catch { throw ValidationError("\(flag): \(path): \(error)") }
            shape = array.shape.count >= 2 ? Array(array.shape.dropFirst()) : [1]
            values = try PointsFile.read(path: path, dimension: shape!.reduce(1, *))
        } else if lower.hasSuffix(".csv") {
            let text = String(decoding: bytes, as: UTF8.self)
            let firstRow = text.split(whereSeparator: \.isNewline).lazy
                .map { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
                .first { fields in !fields.allSatisfy(\.isEmpty) && fields.allSatisfy { Double($0) != nil } }
            guard let firstRow else { throw ValidationError("\(flag): \(path): no rows of numbers") }
            values = try PointsFile.read(path: path, dimension: firstRow.count)
            shape = [firstRow.count]
        } else {
            let root: JSONValue
            do { root = try JSONValue.parse(bytes) } catch { throw ValidationError("\(flag): \(path): invalid JSON: \(error)") }
            var rows: JSONValue = root
            if case .object(let object) = root {
                guard let s = object["samples"] else {
                    throw ValidationError("\(flag): \(path): a JSON object without a \"samples\" field")
                }
                rows = s
                if case .array(let dims)? = object["shape"] {
                    let ints = dims.compactMap { $0.doubleValue.flatMap { Int(exactly: $0) } }
                    if ints.count == dims.count, ints.allSatisfy({ $0 > 0 }) { shape = ints }
                }
            }
            guard case .array(let items) = rows, let first = items.first else {
                throw ValidationError("\(flag): \(path): expected a non-empty array of points [[...], ...]")
            }
            if shape == nil { shape = nestedShape(first) }
            let dimension = shape!.reduce(1, *)
            let rowsBytes = Array(try JSONValue.array(items).encoded().utf8)
            values = try PointsFile.readJSON(rowsBytes, path: path, dimension: dimension)
        }
    } catch let error as PointsFile.ReadError {
        throw ValidationError("\(flag): \(error)")
    }
    let dimension = shape!.reduce(1, *)
    guard dimension >= 2 else {
        throw ValidationError("\(flag): \(path): points of one value; plot needs 2-D points or images")
    }
    guard !values.isEmpty else { throw ValidationError("\(flag): \(path): no points") }
    return PointSet(values: values, dimension: dimension, shape: shape)
}

/// The nesting of one JSON point: [] for a number, [2] for [x, y], [8, 8] for rows of rows.
private func nestedShape(_ v: JSONValue) -> [Int] {
    guard case .array(let items) = v else { return [] }
    return [items.count] + (items.first.map(nestedShape) ?? [])
}
