import Foundation
import Testing
import ScoreCore

@Suite("Model loading")
struct ModelLoadingTests {
    static let mlpConfig = """
        {"name": "m", "data": {"shape": [2]}, "sde": {"type": "vp"},
         "network": {"type": "mlp", "hidden": 8, "blocks": 2, "embed_dim": 4}}
        """

    /// Loads a model that must fail, and returns the error's message.
    func loadError(config: String, weights: [SafeTensors.Entry]? = nil,
                   extraFiles: [String: [UInt8]] = [:]) throws -> String {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let dir = try writeModel(in: root, name: "bad", config: config, weights: weights, extraFiles: extraFiles)
        do {
            _ = try ScoreModel.load(directory: dir)
        } catch {
            #expect(error.file.hasPrefix(dir), "the error names a file of the model: \(error)")
            return error.description
        }
        Issue.record("model loaded but should not have")
        return ""
    }

    @Test("config errors name the file, the key and what was expected")
    func configErrors() throws {
        let cases: [(String, [String])] = [
            (#"{"data": {"shape": [2]}, "sde": {"type": "vp"}}"#, ["config.json", "'network'", "missing"]),
            (#"{"sde": {"type": "vp"}, "network": {"type": "gmm"}}"#, ["'data'", "missing"]),
            (#"{"data": {}, "sde": {"type": "vp"}, "network": {"type": "gmm"}}"#, ["'data.shape'", "missing"]),
            (#"{"data": {"shape": [2, 0]}, "sde": {"type": "vp"}, "network": {"type": "gmm"}}"#, ["'data.shape[1]'", "from 1"]),
            (#"{"data": {"shape": "2"}, "sde": {"type": "vp"}, "network": {"type": "gmm"}}"#, ["'data.shape'", "got string"]),
            (#"{"data": {"shape": [2], "scale": [1, 0]}, "sde": {"type": "vp"}, "network": {"type": "gmm"}}"#, ["'data.scale'", "non-zero"]),
            (#"{"data": {"shape": [2], "shift": [1, 2, 3]}, "sde": {"type": "vp"}, "network": {"type": "gmm"}}"#, ["'data.shift'", "array of 2 numbers"]),
            (#"{"data": {"shape": [2], "levels": 1}, "sde": {"type": "vp"}, "network": {"type": "gmm"}}"#, ["'data.levels'"]),
            (#"{"data": {"shape": [2], "transform": "log"}, "sde": {"type": "vp"}, "network": {"type": "gmm"}}"#, ["'data.transform'", "'affine' or 'logit'", "'log'"]),
            (#"{"data": {"shape": [2], "transform": "logit"}, "sde": {"type": "vp"}, "network": {"type": "gmm"}}"#, ["'data.transform'", "needs data.levels"]),
            (#"{"data": {"shape": [2], "levels": 17, "transform": "logit", "logit_alpha": 0.5}, "sde": {"type": "vp"}, "network": {"type": "gmm"}}"#, ["'data.logit_alpha'", "(0, 0.5)"]),
            (#"{"data": {"shape": [2], "levels": 17, "transform": "logit", "logit_alpha": 0}, "sde": {"type": "vp"}, "network": {"type": "gmm"}}"#, ["'data.logit_alpha'"]),
            (#"{"data": {"shape": [2]}, "sde": {"type": "vq"}, "network": {"type": "gmm"}}"#, ["'sde.type'", "vp, subvp, ve, ve_power", "'vq'"]),
            (#"{"data": {"shape": [2]}, "sde": {"type": "vp", "beta_min": "0.1"}, "network": {"type": "gmm"}}"#, ["'sde.beta_min'", "expected a number, got string"]),
            (#"{"data": {"shape": [2]}, "sde": {"type": "ve", "sigma_min": 5, "sigma_max": 1}, "network": {"type": "gmm"}}"#, ["'sde.sigma_max'"]),
            (#"{"data": {"shape": [2]}, "sde": {"type": "vp", "eps": 2}, "network": {"type": "gmm"}}"#, ["'sde.eps'", "(0, 1)"]),
            (#"{"data": {"shape": [2]}, "sde": {"type": "vp"}, "network": {"type": "unet"}}"#, ["'network.type'", "'unet'"]),
            (#"{"data": {"shape": [2]}, "sde": {"type": "vp"}, "network": {"type": "gmm", "components": []}}"#, ["'network.components'"]),
            (#"{"data": {"shape": [2]}, "sde": {"type": "vp"}, "network": {"type": "gmm", "components": [{"weight": -1, "mean": [0, 0], "std": 1}]}}"#, ["'network.components[0].weight'", "positive"]),
            (#"{"data": {"shape": [2]}, "sde": {"type": "vp"}, "network": {"type": "gmm", "components": [{"weight": 1, "mean": [0], "std": 1}]}}"#, ["'network.components[0].mean'", "2 numbers"]),
            (#"{"data": {"shape": [2]}, "sde": {"type": "vp"}, "network": {"type": "gmm", "components": [{"weight": 1, "mean": [0, 0], "std": [1, 0]}]}}"#, ["'network.components[0].std'", "positive"]),
            (#"{"name": "../etc", "data": {"shape": [2]}, "sde": {"type": "vp"}, "network": {"type": "empirical"}}"#, ["'name'", "not a valid model name"]),
            (#"{"data": {"shape": [2]}, "sde": {"type": "vp"}, "network": {"type": "empirical"}}"#, ["data.npy", "missing data file"]),
            (#"[1, 2]"#, ["top level", "array"]),
            (#"{"data": {"shape": [2]}, "data": {"shape": [3]}}"#, ["invalid JSON", "duplicate"]),
            (#"{"data": "#, ["invalid JSON", "line"]),
        ]
        for (config, fragments) in cases {
            let message = try loadError(config: config)
            for fragment in fragments {
                #expect(message.contains(fragment), "\(message) should mention \(fragment)")
            }
        }
    }

    @Test("mlp tensor errors name the weights file and the tensor")
    func tensorErrors() throws {
        let good = randomMLPTensors(d: 2, h: 8, l: 2, e: 4, seed: 1)
        func replacing(_ name: String, _ entry: SafeTensors.Entry?) -> [SafeTensors.Entry] {
            good.filter { $0.name != name } + (entry.map { [$0] } ?? [])
        }
        let cases: [([SafeTensors.Entry], String, [String])] = [
            (replacing("proj_out.bias", nil), Self.mlpConfig, ["model.safetensors", "missing tensor 'proj_out.bias'"]),
            (replacing("blocks.1.dense.weight", .init(name: "blocks.1.dense.weight", shape: [8, 7], values: Array(repeating: 0, count: 56))),
             Self.mlpConfig, ["'blocks.1.dense.weight'", "[8, 7]", "expected [8, 8]"]),
            (good + [.init(name: "extra.weight", shape: [1], values: [0])], Self.mlpConfig, ["unexpected tensor 'extra.weight'"]),
            (good, Self.mlpConfig.replacingOccurrences(of: "\"hidden\": 8", with: "\"hidden\": 16"), ["network.hidden", "says 16", "give 8"]),
            (good, Self.mlpConfig.replacingOccurrences(of: "\"blocks\": 2", with: "\"blocks\": 3"), ["network.blocks", "says 3", "give 2"]),
            (good, Self.mlpConfig.replacingOccurrences(of: "\"shape\": [2]", with: "\"shape\": [3]"), ["'proj_in.weight'", "D = 2", "3 values"]),
            (good + good.map { .init(name: "module." + $0.name, shape: $0.shape, values: $0.values) }, Self.mlpConfig, ["both with and without"]),
        ]
        for (weights, config, fragments) in cases {
            let message = try loadError(config: config, weights: weights)
            for fragment in fragments {
                #expect(message.contains(fragment), "\(message) should mention \(fragment)")
            }
        }
        // A weights file that is not safetensors names the file and the reason.
        let message = try loadError(config: Self.mlpConfig, extraFiles: ["model.safetensors": [1, 2, 3]])
        #expect(message.contains("model.safetensors") && message.contains("8-byte"))
        // A non-F32 tensor names the tensor and its dtype.
        var bytes = SafeTensors.encode(good)
        let headerLength = Int(bytes[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        let i32Header = header.replacingOccurrences(of: #""embed.0.W":{"dtype":"F32""#,
                                                     with: #""embed.0.W":{"dtype":"I32""#)
        #expect(i32Header != header && i32Header.utf8.count == headerLength)
        bytes.replaceSubrange(8..<(8 + headerLength), with: Array(i32Header.utf8))
        let dtypeMessage = try loadError(config: Self.mlpConfig, extraFiles: ["model.safetensors": bytes])
        #expect(dtypeMessage.contains("'embed.0.W'") && dtypeMessage.contains("I32") && dtypeMessage.contains("F32"))
    }

    @Test("a 'module.' prefix is stripped and sizes are inferred from the tensors")
    func modulePrefix() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let plain = randomMLPTensors(d: 2, h: 8, l: 2, e: 4, seed: 5)
        let prefixed = randomMLPTensors(d: 2, h: 8, l: 2, e: 4, seed: 5, prefix: "module.")
        let config = #"{"data": {"shape": [2]}, "sde": {"type": "ve"}, "network": {"type": "mlp"}}"#
        let a = try ScoreModel.load(directory: try writeModel(in: root, name: "plain", config: config, weights: plain))
        let b = try ScoreModel.load(directory: try writeModel(in: root, name: "prefixed", config: config, weights: prefixed))
        #expect(a.name == "plain" && b.name == "prefixed")  // name defaults to the directory
        let mlp = try #require(b.network as? MLP)
        #expect((mlp.hidden, mlp.blocks, mlp.embedDim, mlp.dimension) == (8, 2, 4, 2))
        #expect(mlp.parameterCount == plain.reduce(0) { $0 + $1.values.count })
        let x = [0.3, -0.7, 1.5, 2.0], t = [0.1, 0.9]
        #expect(a.scores(dataSpace: x, times: t) == b.scores(dataSpace: x, times: t))
    }

    @Test("data shift and scale map data space to model space")
    func dataTransform() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        // A single unit Gaussian at 0 in model space: under vp, s(x_m, t) = −x_m / (a² + σ²) = −x_m.
        let config = #"""
            {"data": {"shape": [2], "shift": [10, -4], "scale": [2, 0.5]}, "sde": {"type": "vp"},
             "network": {"type": "gmm", "components": [{"weight": 1, "mean": [0, 0], "std": 1}]}}
            """#
        let model = try ScoreModel.load(directory: try writeModel(in: root, name: "g", config: config))
        let s = model.scores(dataSpace: [12, -3], times: [0.4])
        #expect(abs(s[0] - -1) < 1e-6 && abs(s[1] - -2) < 1e-6)
        #expect(abs(model.data.logAbsScale - (log(2) + log(0.5))) < 1e-15)
    }

    @Test("the logit data map: inverse pairs, Jacobian by finite differences, domain")
    func logitTransform() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let config = #"""
            {"data": {"shape": [2], "levels": 17, "transform": "logit", "logit_alpha": 0.001,
                      "shift": [-1.5, 0.5], "scale": [2.75, -2]},
             "sde": {"type": "vp"}, "network": {"type": "gmm", "components": [{"weight": 1, "mean": [0, 0], "std": 1}]}}
            """#
        let data = try ScoreModel.load(directory: try writeModel(in: root, name: "g", config: config)).data
        #expect(data.transform == .logit(alpha: 0.001))
        // x = 8.5 is the middle of the range: y = ½, logit 0, so x_m = −shift/scale.
        #expect(abs(data.toModel(8.5, 0) - 1.5 / 2.75) < 1e-15 && abs(data.toModel(8.5, 1) - 0.25) < 1e-15)
        for j in 0..<2 {
            for x in [0, 1e-3, 0.5, 3, 16, 16.999, 17] {
                #expect(abs(data.toData(data.toModel(x, j), j) - x) < 1e-10, "round trip of \(x)")
            }
        }
        // log|det ∂x_m/∂x| against central differences of toModel, coordinate by coordinate.
        for x in [[0.25, 16.5], [3.0, 9.0], [12.0, 0.75]] {
            let h = 1e-6
            var expected = 0.0
            for j in 0..<2 {
                expected += log(abs((data.toModel(x[j] + h, j) - data.toModel(x[j] - h, j)) / (2 * h)))
            }
            let got = x.withUnsafeBufferPointer { data.logAbsJacobian($0.baseAddress!) }
            #expect(abs(got - expected) < 1e-6, "Jacobian at \(x): \(got) vs \(expected)")
        }
        // The domain is where y = α + (1 − 2α)x/17 lies in (0, 1), a little wider than [0, 17].
        let domain = try #require(data.domain)
        #expect(domain.contains(0) && domain.contains(17) && domain.contains(-0.017) && domain.contains(17.017))
        #expect(!domain.contains(-0.018) && !domain.contains(17.018))
        #expect(data.domainProblem(17.5)?.contains("outside") == true && data.domainProblem(16) == nil)
        // However far out in model space, a point maps back into the data range.
        #expect(domain.contains(data.toData(-30, 0)) && domain.contains(data.toData(30, 0)))
    }

    @Test("empirical models read their data set from .csv or .npy, in data space")
    func empiricalFiles() throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let config = #"{"data": {"shape": [2], "shift": 1, "scale": 2}, "sde": {"type": "vp"}, "network": {"type": "empirical"}}"#
        let csv = Array("x,y\n1,1\n3,5\n-1,1\n".utf8)
        let npy = NPY.encode(float32: [1, 1, 3, 5, -1, 1], shape: [3, 2])
        let a = try ScoreModel.load(directory: try writeModel(in: root, name: "a", config: config, extraFiles: ["data.csv": csv]))
        let b = try ScoreModel.load(directory: try writeModel(in: root, name: "b", config: config, extraFiles: ["data.npy": npy]))
        let net = try #require(a.network as? Empirical)
        #expect(net.count == 3)
        #expect(net.data == [0, 0, 1, 2, -1, 0])  // (x − 1) / 2
        let x = [0.5, 2.0, 3.0, 3.0]
        #expect(a.scores(dataSpace: x, times: [0.3, 0.05]) == b.scores(dataSpace: x, times: [0.3, 0.05]))
    }

    @Test("several model roots load in order; a name used twice across them is an error naming both")
    func severalRoots() throws {
        let shipped = try makeTemporaryDirectory(), extra = try makeTemporaryDirectory()
        defer { for d in [shipped, extra] { try? FileManager.default.removeItem(at: d) } }
        let gmm = #"{"data": {"shape": [2]}, "sde": {"type": "vp"}, "network": {"type": "gmm", "components": [{"weight": 1, "mean": [0, 0], "std": 1}]}}"#
        _ = try writeModel(in: shipped, name: "b", config: gmm)
        _ = try writeModel(in: shipped, name: "c", config: gmm)
        _ = try writeModel(in: extra, name: "a", config: gmm)
        let models = try ScoreModel.loadAll(roots: [shipped.path, extra.path])
        #expect(models.map(\.name) == ["b", "c", "a"])
        let duplicate = try writeModel(in: extra, name: "c", config: gmm)
        do {
            _ = try ScoreModel.loadAll(roots: [shipped.path, extra.path])
            Issue.record("two models named c loaded")
        } catch {
            #expect(error.file == duplicate)
            #expect(error.description.contains(shipped.appendingPathComponent("c").path))
        }
        do {
            _ = try ScoreModel.loadAll(roots: [shipped.path, extra.path + "/missing"])
            Issue.record("a missing root loaded")
        } catch {
            #expect(error.description.contains("cannot list"))
        }
    }

    @Test("the shipped Models/ directory loads")
    func shippedModels() throws {
        let models = try ScoreModel.loadAll(root: packageRoot.appendingPathComponent("Models").path)
        #expect(models.contains { $0.name == "gmm-demo" })
        for m in models {
            #expect(m.network.parameterCount > 0)
            #expect(m.metadata.name == m.name && m.metadata.dataShape == m.data.shape)
            #expect(!m.metadata.hyperparameters.isEmpty, "\(m.name)")
        }
    }
}
