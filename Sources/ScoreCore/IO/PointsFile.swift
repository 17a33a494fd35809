import Foundation
import ScoreJSON

/// Reads points (rows of D numbers) from JSON `[[...], ...]`, CSV or `.npy`, as the
/// CLI and empirical models take them.
public enum PointsFile {
    public struct ReadError: Error, Sendable, CustomStringConvertible {
        public let path: String
        /// What is wrong, without the path.
        public let message: String
        init(_ path: String, _ message: String) { self.path = path; self.message = message }
        public var description: String { "\(path): \(message)" }
    }

    /// Reads `path` (format by extension: `.npy`, `.csv`, otherwise JSON) and returns
    /// the rows flattened, each of `dimension` values.
    public static func read(path: String, dimension: Int) throws(ReadError) -> [Double] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReadError(path, "no such file or not readable")
        }
        let bytes = [UInt8](data)
        let lower = path.lowercased()
        if lower.hasSuffix(".npy") {
            let array: NPY.Array
            do { array = try NPY.read(bytes) } catch { throw ReadError(path, error.description) }
            let rowSize = array.shape.dropFirst().reduce(1, *)
            guard array.shape.count >= 1, rowSize == dimension else {
                throw ReadError(path, "array of shape \(array.shape) does not hold rows of \(dimension) values")
            }
            return array.values
        }
        if lower.hasSuffix(".csv") { return try readCSV(bytes, path: path, dimension: dimension) }
        return try readJSON(bytes, path: path, dimension: dimension)
    }

    /// Parses `[[...], ...]` (each row a flat array of D numbers, or nested to the
    /// point's shape).
    public static func readJSON(_ bytes: [UInt8], path: String, dimension: Int) throws(ReadError) -> [Double] {
        let root: JSONValue
        do { root = try JSONValue.parse(bytes) } catch { throw ReadError(path, "invalid JSON: \(error)") }
        guard case .array(let rows) = root else { throw ReadError(path, "expected an array of points [[...], ...]") }
        var out: [Double] = []
        out.reserveCapacity(rows.count * dimension)
        for (i, row) in rows.enumerated() {
            let before = out.count
            guard flatten(row, into: &out), out.count - before == dimension else {
                throw ReadError(path, "point \(i) is not an array of \(dimension) finite numbers")
            }
        }
        return out
    }

    private static func flatten(_ v: JSONValue, into out: inout [Double]) -> Bool {
        switch v {
        case .array(let items):
            for item in items where !flatten(item, into: &out) { return false }
            return true
        default:
            guard let d = v.doubleValue, d.isFinite else { return false }
            out.append(d)
            return true
        }
    }

    /// Parses comma-separated rows; a first line that is not numeric is a header.
    public static func readCSV(_ bytes: [UInt8], path: String, dimension: Int) throws(ReadError) -> [Double] {
        let text = String(decoding: bytes, as: UTF8.self)
        var out: [Double] = []
        for (lineNumber, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if fields.allSatisfy(\.isEmpty) { continue }
            let values = fields.compactMap(Double.init)
            if values.count != fields.count {
                if lineNumber == 0 && out.isEmpty { continue }  // header row
                throw ReadError(path, "line \(lineNumber + 1): not all fields are numbers")
            }
            guard values.count == dimension, values.allSatisfy(\.isFinite) else {
                throw ReadError(path, "line \(lineNumber + 1): expected \(dimension) finite numbers, got \(values.count)")
            }
            out += values
        }
        return out
    }
}
