import Foundation
import Testing
import ScoreCore
import ScoreJSON

/// The score SDE paper's networks over HTTP: a converted score_sde checkpoint on the VP
/// SDE (DDPM++) and on the VE SDE (NCSN++ with FIR and Fourier features), and diffusers'
/// NCSN++ form (skip blocks), each through every endpoint on a real socket.
@Suite("NCSN++ / DDPM++ models over HTTP", .serialized)
struct ScoreSDEModelEndpointTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let directories = ["ncsnpp/vp_ddpmpp", "ncsnpp/ve_ncsnpp_outskip", "unet2d/plain_f16_scoresdeve_ncsnpp"]

    /// The numbers of `value` in order, however nested (images come back as [C][H][W]);
    /// nil if anything else is in it.
    static func flat(_ value: JSONValue?) -> [Double]? {
        switch value {
        case .array(let items)?:
            var out: [Double] = []
            for item in items {
                guard let inner = flat(item) else { return nil }
                out += inner
            }
            return out
        case let v?: return v.doubleValue.map { [$0] }
        case nil: return nil
        }
    }

    /// Per point, its numbers (`key` holds an array of points).
    static func points(_ o: JSONObject?, _ key: String) -> [[Double]]? {
        guard case .array(let items)? = o?[key] else { return nil }
        let rows = items.map { flat($0) }
        return rows.contains { $0 == nil } ? nil : rows.map { $0! }
    }

    @Test("info, sample, score, likelihood (Hutchinson, dequantized, bits/dim) and encode answer finite numbers",
          arguments: directories)
    func endpoints(_ path: String) async throws {
        let model = try ScoreModel.load(directory: Self.fixtures.appendingPathComponent(path).path)
        let name = model.name, d = model.data.dimension
        try await withServer(models: [model]) { s in
            let info = try await s.get("/v1/models/\(name)")
            #expect(info.status == 200, "\(info)")
            guard case .object(let network)? = info.object?["network"] else { Issue.record("no network in \(info)"); return }
            #expect(network.string("type") == model.network.typeName)

            let sample = try await s.post("/v1/models/\(name)/sample", #"{"n":2,"seed":5,"sampler":"dpm_solver","steps":6}"#)
            #expect(sample.status == 200)
            let samples = try #require(Self.points(sample.object, "samples"))
            #expect(samples.count == 2 && samples.allSatisfy { $0.count == d && $0.allSatisfy(\.isFinite) })

            // Pixels in data space (0…255); the score is the network's, in model space.
            let x = (0..<d).map { Double(($0 * 37) % 256) }
            let xText = try JSONValue.array([.array(x.map { .number($0) })]).encoded()
            let score = try await s.post("/v1/models/\(name)/score", #"{"x":"# + xText + #","t":0.3}"#)
            #expect(score.status == 200)
            let served = try #require(Self.points(score.object, "score")?.first)
            var xm = x
            model.data.toModel(&xm)
            let local = ScoreWorkspace(network: model.network, rows: 1).score(xm.map { Float($0) }, times: [0.3])
            #expect(served.count == d && zip(served, local).allSatisfy { Float($0) == $1 }, "served score differs from the network's")

            let ll = try await s.post("/v1/models/\(name)/likelihood",
                                      #"{"x":"# + xText + #","seed":2,"estimator":"hutchinson","dequantize":1,"rtol":1e-3,"atol":1e-3}"#)
            #expect(ll.status == 200)
            let o = try #require(ll.object)
            let logp = try #require(o.numbers("log_likelihood")?.first), bpd = try #require(o.numbers("bits_per_dim")?.first)
            #expect(logp.isFinite && bpd.isFinite && bpd > 0, "log p \(logp), bits/dim \(bpd)")

            let encoded = try await s.post("/v1/models/\(name)/encode", #"{"x":"# + xText + #","rtol":1e-3,"atol":1e-3}"#)
            #expect(encoded.status == 200)
            let latents = try #require(Self.points(encoded.object, "latents")?.first)
            #expect(latents.count == d && latents.allSatisfy(\.isFinite))
        }
    }
}
