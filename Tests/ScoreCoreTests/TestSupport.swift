import Foundation
import Testing
import ScoreCore
import ScoreJSON

/// The shipped fixtures (Tests/Fixtures), found from this file's path.
let fixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The repository root.
let packageRoot = fixturesDirectory.deletingLastPathComponent().deletingLastPathComponent()

/// A fresh temporary directory, removed by the caller with `removeItem`.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("scoreserve-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes a model directory with the given config (and optional weights) and returns its path.
func writeModel(in root: URL, name: String, config: String,
                weights: [SafeTensors.Entry]? = nil, extraFiles: [String: [UInt8]] = [:]) throws -> String {
    let dir = root.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try Data(config.utf8).write(to: dir.appendingPathComponent("config.json"))
    if let weights {
        try Data(SafeTensors.encode(weights)).write(to: dir.appendingPathComponent("model.safetensors"))
    }
    for (file, bytes) in extraFiles { try Data(bytes).write(to: dir.appendingPathComponent(file)) }
    return dir.path
}

/// Max over rows of ‖a_r − b_r‖∞ / ‖b_r‖∞ (row-wise relative error in the max norm).
func maxRowRelativeError(_ a: [Double], _ b: [Double], dimension d: Int) -> Double {
    precondition(a.count == b.count)
    var worst = 0.0
    for r in 0..<(a.count / d) {
        var diff = 0.0, norm = 0.0
        for j in 0..<d {
            diff = max(diff, abs(a[r * d + j] - b[r * d + j]))
            norm = max(norm, abs(b[r * d + j]))
        }
        worst = max(worst, diff / max(norm, 1e-30))
    }
    return worst
}

/// A random residual MLP's tensors (PyTorch names) for D, H, L, E.
func randomMLPTensors(d: Int, h: Int, l: Int, e: Int, seed: UInt64, prefix: String = "") -> [SafeTensors.Entry] {
    var rng = SplitMix64(seed: seed)
    func values(_ n: Int, _ scale: Double) -> [Float] { (0..<n).map { _ in Float(rng.normal() * scale) } }
    var out: [SafeTensors.Entry] = [
        .init(name: prefix + "embed.0.W", shape: [e / 2], values: values(e / 2, 8)),
        .init(name: prefix + "embed.1.weight", shape: [e, e], values: values(e * e, 1 / Double(e).squareRoot())),
        .init(name: prefix + "embed.1.bias", shape: [e], values: values(e, 0.1)),
        .init(name: prefix + "proj_in.weight", shape: [h, d], values: values(h * d, 1 / Double(d).squareRoot())),
        .init(name: prefix + "proj_in.bias", shape: [h], values: values(h, 0.1)),
        .init(name: prefix + "proj_out.weight", shape: [d, h], values: values(d * h, 1 / Double(h).squareRoot())),
        .init(name: prefix + "proj_out.bias", shape: [d], values: values(d, 0.1)),
    ]
    for i in 0..<l {
        out += [
            .init(name: prefix + "blocks.\(i).temb.weight", shape: [h, e], values: values(h * e, 1 / Double(e).squareRoot())),
            .init(name: prefix + "blocks.\(i).temb.bias", shape: [h], values: values(h, 0.1)),
            .init(name: prefix + "blocks.\(i).dense.weight", shape: [h, h], values: values(h * h, 1 / Double(h).squareRoot())),
            .init(name: prefix + "blocks.\(i).dense.bias", shape: [h], values: values(h, 0.1)),
        ]
    }
    return out
}

/// Reads a fixture's expected.json: data-space points, times and float64 reference scores.
func readExpected(_ fixture: String) throws -> (x: [Double], t: [Double], score: [Double]) {
    let data = try Data(contentsOf: fixturesDirectory.appendingPathComponent(fixture).appendingPathComponent("expected.json"))
    guard case .object(let o) = try JSONValue.parse([UInt8](data)),
          case .array(let xs)? = o["x"], case .array(let ts)? = o["t"], case .array(let ss)? = o["score"]
    else { throw JSONError("bad expected.json") }
    func flat(_ rows: [JSONValue]) -> [Double] {
        rows.flatMap { row -> [Double] in
            guard case .array(let items) = row else { return [] }
            return items.compactMap(\.doubleValue)
        }
    }
    return (flat(xs), ts.compactMap(\.doubleValue), flat(ss))
}

/// Runs `executable` with `arguments` to completion: its exit status, stdout and stderr.
func runProcess(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// The numbers of a JSON array (a fixture's expected values).
func doubles(_ value: JSONValue?) throws -> [Double] {
    guard case .array(let items)? = value else { throw FixtureError("expected an array") }
    return try items.map { item in
        guard let d = item.doubleValue else { throw FixtureError("expected numbers") }
        return d
    }
}

/// One reference case of an image network: a time, a point and a tangent, with the
/// reference's float64 score and JVP there.
struct ReferenceCase {
    let t: Double
    let x, v: [Float]
    let score, jvp: [Double]
}

/// ‖a − b‖∞ / ‖b‖∞.
func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    let diff = zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
    return diff / (b.map { abs($0) }.max() ?? 1)
}

/// Expects `net`'s score and JVP within `bound` (relative, max norm) of each case, and the
/// JVP pass's scores to be exactly the score pass's.
func expectParity(_ net: any ScoreNetwork, _ cases: [ReferenceCase], bound: Double, _ name: String) throws {
    let d = net.dimension
    let workspace = ScoreWorkspace(network: net, rows: 1, tangents: 1)
    for c in cases {
        try #require(c.x.count == d)
        var score = [Float](repeating: 0, count: d), jv = [Float](repeating: 0, count: d)
        let only = workspace.score(c.x, times: [c.t])
        [c.t].withUnsafeBufferPointer { tp in
            workspace.jvp(c.x, times: tp.baseAddress!, rows: 1, tangents: 1, v: c.v, score: &score, jv: &jv)
        }
        let scoreError = relativeError(only, c.score), jvpError = relativeError(jv, c.jvp)
        #expect(scoreError < bound, "\(name) t = \(c.t): score error \(scoreError)")
        #expect(jvpError < bound, "\(name) t = \(c.t): JVP error \(jvpError)")
        #expect(score == only, "\(name) t = \(c.t): jvp's scores differ from score's")
    }
}

/// Expects six rows of `cases` (each at its own time) scored in one call to get exactly
/// the bits each gets alone.
func expectBatchBits(_ net: any ScoreNetwork, _ cases: [ReferenceCase], _ name: String) {
    let d = net.dimension, rows = 6
    let picks = (0..<rows).map { cases[$0 % cases.count] }
    let x = picks.flatMap(\.x), times = picks.enumerated().map { $0.element.t * (1 - 0.05 * Double($0.offset)) }
    let together = ScoreWorkspace(network: net, rows: rows).score(x, times: times)
    let alone = ScoreWorkspace(network: net, rows: 1)
    for r in 0..<rows {
        let one = alone.score(Array(x[(r * d)..<((r + 1) * d)]), times: [times[r]])
        #expect(one.map(\.bitPattern) == together[(r * d)..<((r + 1) * d)].map(\.bitPattern), "\(name): row \(r)")
    }
}
