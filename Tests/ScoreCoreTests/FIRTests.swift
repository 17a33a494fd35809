import Foundation
import Testing
import ScoreCore
import ScoreJSON

/// FIR resampling against diffusers' `upfirdn2d_native` in float64
/// (Tests/Fixtures/fir/make_fir_fixtures.py).
@Suite("FIR resampling (upfirdn2d)")
struct FIRTests {
    @Test("upfirdn matches diffusers' upfirdn2d_native for its callers' up, down and pads, negative pads included")
    func matchesDiffusers() throws {
        let url = fixturesDirectory.appendingPathComponent("fir/upfirdn.json")
        guard case .object(let root) = try JSONValue.parse([UInt8](try Data(contentsOf: url))),
              case .array(let cases)? = root["cases"] else { throw FixtureError("upfirdn.json has no cases") }
        #expect(cases.count == 8)
        for item in cases {
            guard case .object(let c) = item, case .string(let name)? = c["name"] else { throw FixtureError("bad case") }
            func numbers(_ key: String) throws -> [Double] {
                guard case .array(let a)? = c[key] else { throw FixtureError("\(name): no \(key)") }
                return a.compactMap(\.doubleValue)
            }
            func int(_ key: String) throws -> Int {
                guard let v = c[key]?.doubleValue else { throw FixtureError("\(name): no \(key)") }
                return Int(v)
            }
            let pad = try numbers("pad").map { Int($0) }, h = try int("height"), w = try int("width")
            let up = try int("up"), down = try int("down")
            guard let gain = c["gain"]?.doubleValue else { throw FixtureError("\(name): no gain") }
            let kernel = FIR.kernel(try numbers("taps"), gain: gain)
            let expectedKernel = try numbers("kernel")
            #expect(zip(kernel, expectedKernel).allSatisfy { abs(Double($0) - $1) <= 1e-7 * abs($1) }, "\(name): kernel")
            let k = Int(Double(kernel.count).squareRoot()), x = try numbers("x").map { Float($0) }
            let oh = FIR.outputSize(h, kernel: k, up: up, down: down, pad: (pad[0], pad[1]))
            let ow = FIR.outputSize(w, kernel: k, up: up, down: down, pad: (pad[0], pad[1]))
            let expectedHeight = try int("out_height"), expectedWidth = try int("out_width")
            #expect(oh == expectedHeight && ow == expectedWidth, "\(name): output size")
            var out = [Float](repeating: .nan, count: oh * ow)
            FIR.upfirdn(x, height: h, width: w, kernel: kernel, size: k, up: up, down: down, pad: (pad[0], pad[1]), into: &out)
            let expected = try numbers("out"), scale = expected.map(abs).max() ?? 1
            let error = zip(out, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
            #expect(error <= 1e-6 * scale, "\(name): max error \(error) of \(scale)")
        }
    }
}
