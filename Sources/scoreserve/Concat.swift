import ArgumentParser
import Foundation
import ScoreCore

/// Joins the `.npy` parts of a sharded job (`sample --shard I/K --output part-I.npy`).
struct Concat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join .npy sample files along their first axis, in index order.",
        discussion: """
            The parts of a sharded job (`scoreserve sample ... --shard I/K --output
            part-I.npy`, e.g. a Kubernetes Indexed Job's pods) joined in index order are
            exactly the samples of one request for all n. Files are taken in natural order
            of their names (part-2 before part-10), or as given with --keep-order; every
            part must have the same shape after its first axis.

            Examples:
              scoreserve concat /out/part-*.npy --output all.npy
              scoreserve concat b.npy a.npy --keep-order --output ba.npy
            """)

    @Argument(help: "The .npy parts.") var parts: [String]
    @Option(help: "The joined float32 .npy file to write.") var output: String
    @Flag(help: "Join in the order given instead of the names' natural order.") var keepOrder = false

    func run() throws {
        guard !parts.isEmpty else { throw ValidationError("no parts given") }
        let ordered = keepOrder ? parts : parts.sorted { Self.naturalKey($0).lexicographicallyPrecedes(Self.naturalKey($1)) }
        var values: [Float] = []
        var rows = 0
        var tail: [Int]?
        for path in ordered {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
            let array: NPY.Array
            do { array = try NPY.read([UInt8](data)) } catch { throw ValidationError("\(path): \(error)") }
            guard let first = array.shape.first else { throw ValidationError("\(path): a 0-d array has no rows to join") }
            let rest = Array(array.shape.dropFirst())
            if let tail, tail != rest {
                throw ValidationError("\(path): rows of shape \(rest), but the parts before have \(tail)")
            }
            tail = rest
            rows += first
            values += array.values.map { Float($0) }
        }
        let bytes = NPY.encode(float32: values, shape: [rows] + (tail ?? []))
        guard FileManager.default.createFile(atPath: output, contents: Data(bytes)) else {
            throw ValidationError("cannot write \(output)")
        }
        print("wrote \(output): \(rows) rows of shape \(tail ?? []) from \(ordered.count) part(s)")
    }

    /// The name split into text and numbers, so "part-10" sorts after "part-9".
    static func naturalKey(_ name: String) -> [NaturalPart] {
        var key: [NaturalPart] = [], digits = "", text = ""
        for ch in name {
            if ch.isASCII && ch.isNumber {
                if !text.isEmpty { key.append(.text(text)); text = "" }
                digits.append(ch)
            } else {
                if !digits.isEmpty { key.append(.number(Int(digits) ?? .max)); digits = "" }
                text.append(ch)
            }
        }
        if !digits.isEmpty { key.append(.number(Int(digits) ?? .max)) }
        if !text.isEmpty { key.append(.text(text)) }
        return key
    }

    enum NaturalPart: Comparable {
        case number(Int)
        case text(String)
    }
}
