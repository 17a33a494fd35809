import Foundation
import Testing
import ScoreCore
import ScoreJSON

@Suite("ScoreNet (the tutorial's conv U-Net)")
struct ScoreNetTests {
    /// The fixture: PyTorch float64 scores and JVPs of the shipped weights
    /// (Tests/Fixtures/scorenet/make_parity_fixture.py).
    struct Case { let t: Double; let x, score, v, jv: [Float] }

    static func fixture() throws -> (ScoreModel, [Case]) {
        let path = fixturesDirectory.appendingPathComponent("scorenet/parity.json").path
        guard case .object(let o) = try JSONValue.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))),
              case .string(let model)? = o["model"], case .array(let cases)? = o["cases"] else {
            throw FixtureError("parity.json lacks model or cases")
        }
        func floats(_ value: JSONValue?) throws -> [Float] {
            guard case .array(let items)? = value else { throw FixtureError("expected an array") }
            return try items.map { item in
                guard let d = item.doubleValue else { throw FixtureError("expected numbers") }
                return Float(d)
            }
        }
        let parsed = try cases.map { item -> Case in
            guard case .object(let c) = item, let t = c["t"]?.doubleValue else { throw FixtureError("bad case") }
            return Case(t: t, x: try floats(c["x"]), score: try floats(c["score"]), v: try floats(c["v"]),
                        jv: try floats(c["jv"]))
        }
        return (try ScoreModel.load(directory: packageRoot.appendingPathComponent(model).path), parsed)
    }

    /// ‖a − b‖∞ / ‖b‖∞.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Double {
        let diff = zip(a, b).map { abs(Double($0) - Double($1)) }.max() ?? 0
        return diff / Double(b.map { abs($0) }.max() ?? 1)
    }

    @Test("scores and JVPs match PyTorch to 1e-4 relative")
    func parity() throws {
        let (model, cases) = try Self.fixture()
        #expect(model.network.typeName == "scorenet")
        #expect(cases.count == 3)
        let net = model.network, d = net.dimension
        #expect(d == 784)
        let workspace = ScoreWorkspace(network: net, rows: 1, tangents: 1)
        for c in cases {
            var score = [Float](repeating: .nan, count: d), jv = [Float](repeating: .nan, count: d)
            var t = c.t
            workspace.jvp(c.x, times: &t, rows: 1, tangents: 1, v: c.v, score: &score, jv: &jv)
            let scoreError = Self.relativeError(score, c.score), jvError = Self.relativeError(jv, c.jv)
            #expect(scoreError <= 1e-4, "t = \(c.t): score off by \(scoreError) relative")
            #expect(jvError <= 1e-4, "t = \(c.t): JVP off by \(jvError) relative")
            // score() and jvp() give the same bits.
            #expect(workspace.score(c.x, times: [c.t]) == score)
        }
    }

    @Test("an image's score does not depend on the other images of the call")
    func rowsIndependent() throws {
        let (model, cases) = try Self.fixture()
        let d = model.network.dimension
        let alone = ScoreWorkspace(network: model.network, rows: 1).score(cases[1].x, times: [cases[1].t])
        let together = ScoreWorkspace(network: model.network, rows: 3)
            .score(cases.flatMap(\.x), times: cases.map(\.t))
        #expect(Array(together[d..<(2 * d)]) == alone)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
