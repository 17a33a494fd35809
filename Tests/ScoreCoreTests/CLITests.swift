import Foundation
import Testing
import ScoreCore
import ScoreJSON

/// Runs the built `scoreserve` binary (it sits beside the test bundle in .build).
func runCLI(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0])
    var dir = bundle.deletingLastPathComponent()
    while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("scoreserve").path),
          dir.path != "/" { dir.deleteLastPathComponent() }
    return try runProcess(dir.appendingPathComponent("scoreserve"), arguments)
}

@Suite("scoreserve CLI")
struct CLITests {
    @Test("inspect lists name, SDE, network, shape, parameters and tensors")
    func inspect() throws {
        let r = try runCLI(["inspect", fixturesDirectory.appendingPathComponent("mlp-ve-module").path])
        #expect(r.status == 0, "\(r.stderr)")
        for fragment in ["mlp-ve-module", "type=ve", "hidden=16 blocks=3 embed_dim=8", "[2]", "parameters:  1406",
                         "module.blocks.2.temb.weight", "F32"] {
            #expect(r.stdout.contains(fragment), "inspect output should contain \(fragment)")
        }
    }

    @Test("inspect of a broken model prints the load error and exits non-zero")
    func inspectBroken() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = try writeModel(in: root, name: "broken",
                                 config: #"{"data": {"shape": [2]}, "sde": {"type": "vp"}, "network": {"type": "mlp"}}"#)
        let r = try runCLI(["inspect", dir])
        #expect(r.status != 0)
        #expect(r.stderr.contains("model.safetensors"))
    }

    @Test("score prints the network's scores for points and per-point times")
    func score() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let expected = try readExpected("mlp-vp")
        let rows = stride(from: 0, to: expected.x.count, by: 3).map { Array(expected.x[$0..<($0 + 3)]) }
        let xText = "[" + rows.map { "[" + $0.map { "\($0)" }.joined(separator: ",") + "]" }.joined(separator: ",") + "]"
        let tText = "[" + expected.t.map { "\($0)" }.joined(separator: ",") + "]"
        let xFile = root.appendingPathComponent("x.json"), tFile = root.appendingPathComponent("t.json")
        try Data(xText.utf8).write(to: xFile)
        try Data(tText.utf8).write(to: tFile)
        let r = try runCLI(["score", fixturesDirectory.appendingPathComponent("mlp-vp").path,
                            "--input", xFile.path, "--t", tFile.path])
        #expect(r.status == 0, "\(r.stderr)")
        guard case .object(let o) = try JSONValue.parse(r.stdout), case .array(let scoreRows)? = o["score"] else {
            Issue.record("bad output: \(r.stdout)"); return
        }
        let got = scoreRows.flatMap { row -> [Double] in
            guard case .array(let v) = row else { return [] }
            return v.compactMap(\.doubleValue)
        }
        #expect(maxRowRelativeError(got, expected.score, dimension: 3) <= 1e-5)

        // One time for every point, and CSV input.
        try Data("a,b\n0,0\n1,1\n".utf8).write(to: root.appendingPathComponent("p.csv"))
        let one = try runCLI(["score", packageRoot.appendingPathComponent("Models/gmm-demo").path,
                              "--input", root.appendingPathComponent("p.csv").path, "--t", "0.5"])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stdout.hasPrefix("{\"score\":[["))

        let bad = try runCLI(["score", fixturesDirectory.appendingPathComponent("mlp-vp").path,
                              "--input", xFile.path, "--t", "0"])
        #expect(bad.status != 0 && bad.stderr.contains("--t"))
    }

    @Test("sample, likelihood and encode print the API's JSON and write .npy")
    func sampling() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let model = packageRoot.appendingPathComponent("Models/gmm-demo").path
        let r = try runCLI(["sample", model, "--n", "3", "--seed", "11", "--sampler", "dpm-solver", "--threads", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        guard case .object(let o) = try JSONValue.parse(r.stdout), case .array(let rows)? = o["samples"] else {
            Issue.record("bad output: \(r.stdout)"); return
        }
        #expect(o["seed"] == .integer(11) && o["n"] == .integer(3) && o["model"] == .string("gmm-demo"))
        #expect(rows.count == 3 && o["nfe"] == .array([.integer(20), .integer(20), .integer(20)]))
        // The same request as float32 .npy holds the same numbers.
        let npy = root.appendingPathComponent("s.npy").path
        let n = try runCLI(["sample", model, "--n", "3", "--seed", "11", "--sampler", "dpm_solver",
                            "--format", "npy", "--output", npy])
        #expect(n.status == 0, "\(n.stderr)")
        let array = try NPY.read([UInt8](Data(contentsOf: URL(fileURLWithPath: npy))))
        #expect(array.shape == [3, 2])
        let json = rows.flatMap { row -> [Double] in
            guard case .array(let v) = row else { return [] }
            return v.compactMap(\.doubleValue)
        }
        #expect(array.values.map { Float($0) } == json.map { Float($0) })

        try Data("[[2, 0], [0, 2]]".utf8).write(to: root.appendingPathComponent("p.json"))
        let ll = try runCLI(["likelihood", model, "--input", root.appendingPathComponent("p.json").path, "--seed", "1"])
        #expect(ll.status == 0, "\(ll.stderr)")
        #expect(ll.stdout.contains("\"log_likelihood\":[") && ll.stdout.contains("\"latents\":[["))
        let enc = try runCLI(["encode", model, "--input", root.appendingPathComponent("p.json").path])
        #expect(enc.status == 0 && enc.stdout.hasPrefix("{\"latents\":[["))

        // Errors name the flag or field.
        let bad = try runCLI(["sample", model, "--sampler", "ode", "--order", "2"])
        #expect(bad.status != 0 && bad.stderr.contains("order"))
        let slow = try runCLI(["sample", model, "--steps", "10000000", "--n", "64", "--timeout-ms", "200"])
        #expect(slow.status != 0 && slow.stderr.contains("deadline"))
    }
}
