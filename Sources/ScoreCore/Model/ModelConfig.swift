import Foundation
import ScoreJSON

/// A parsed and validated config.json (see docs/model-format.md).
public struct ModelConfig: Sendable, Equatable {
    public let name: String
    public let description: String
    public let data: DataSpec
    public let sde: SDE
    public let network: NetworkSpec
    /// The weights file name relative to the model directory (mlp only).
    public let weights: String?

    public init(name: String, description: String, data: DataSpec, sde: SDE, network: NetworkSpec, weights: String?) {
        self.name = name
        self.description = description
        self.data = data
        self.sde = sde
        self.network = network
        self.weights = weights
    }

    /// Characters allowed in a model name: it appears in URLs and must never reach
    /// the filesystem as a path.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 128 && name.first != "." &&
            name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0)
                || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    /// Largest D a point may have (keeps shape products and buffers sane).
    public static let maxDimension = 1 << 24

    /// Parses config.json text. `file` names it in errors; `defaultName` is used
    /// when the config has no `name` (the directory's name).
    public static func parse(_ bytes: [UInt8], file: String, defaultName: String) throws(ModelLoadError) -> ModelConfig {
        let root: JSONValue
        do { root = try JSONValue.parse(bytes) } catch {
            throw ModelLoadError(file: file, "invalid JSON: \(error)")
        }
        let r = ConfigReader(file: file)
        guard case .object(let top) = root else {
            throw ModelLoadError(file: file, "expected a JSON object at the top level, got \(root.typeName)")
        }

        let name = try r.string(top["name"], "name") ?? defaultName
        guard isValidName(name) else {
            throw r.fail("name", "'\(name)' is not a valid model name (letters, digits, '-', '_', '.'; not starting with '.')")
        }
        let description = try r.string(top["description"], "description") ?? ""
        let data = try parseData(r, try r.requireObject(top["data"], "data"))
        let sde = try parseSDE(r, try r.requireObject(top["sde"], "sde"))
        let network = try parseNetwork(r, try r.requireObject(top["network"], "network"), data: data)
        var weights = try r.string(top["weights"], "weights")
        switch network {
        case .mlp, .scorenet, .ncsnpp: if weights == nil { weights = "model.safetensors" }
        default: break
        }
        if let w = weights, w.isEmpty || w.hasPrefix("/") || w.split(separator: "/").contains("..") {
            throw r.fail("weights", "expected a file name inside the model directory, got '\(w)'")
        }
        return ModelConfig(name: name, description: description, data: data, sde: sde,
                           network: network, weights: weights)
    }

    static func parseData(_ r: ConfigReader, _ o: JSONObject) throws(ModelLoadError) -> DataSpec {
        guard case .array(let dims)? = o["shape"] else {
            if o["shape"] == nil { throw r.fail("data.shape", "missing (expected an array of positive integers)") }
            throw r.fail("data.shape", "expected an array of positive integers, got \(o["shape"]!.typeName)")
        }
        guard !dims.isEmpty else { throw r.fail("data.shape", "expected at least one dimension") }
        var shape: [Int] = []
        var d = 1
        for (i, v) in dims.enumerated() {
            guard let n = try r.integer(v, "data.shape[\(i)]", atLeast: 1) else { continue }
            shape.append(n)
            let (p, o) = d.multipliedReportingOverflow(by: n)
            guard !o, p <= maxDimension else {
                throw r.fail("data.shape", "a point may have at most \(maxDimension) values")
            }
            d = p
        }
        let shift = try r.scalarOrVector(o["shift"], "data.shift", count: d) ?? Array(repeating: 0, count: d)
        let scale = try r.scalarOrVector(o["scale"], "data.scale", count: d, nonzero: true)
            ?? Array(repeating: 1, count: d)
        let levels = try r.integer(o["levels"], "data.levels", atLeast: 2)
        let transformName = try r.string(o["transform"], "data.transform") ?? DataTransform.Kind.affine.rawValue
        guard let kind = DataTransform.Kind(rawValue: transformName) else {
            let names = DataTransform.Kind.allCases.map { "'\($0.rawValue)'" }.joined(separator: " or ")
            throw r.fail("data.transform", "expected \(names), got '\(transformName)'")
        }
        let transform: DataTransform
        switch kind {
        case .affine:
            transform = .affine
        case .logit:
            guard levels != nil else { throw r.fail("data.transform", "'logit' needs data.levels (the data range is 0…levels)") }
            let alpha = try r.positive(o["logit_alpha"], "data.logit_alpha") ?? 1e-4
            guard alpha < 0.5 else { throw r.fail("data.logit_alpha", "expected a number in (0, 0.5), got \(alpha)") }
            transform = .logit(alpha: alpha)
        }
        return DataSpec(shape: shape, shift: shift, scale: scale, levels: levels, transform: transform)
    }

    static func parseSDE(_ r: ConfigReader, _ o: JSONObject) throws(ModelLoadError) -> SDE {
        let typeName = try r.requireString(o["type"], "sde.type")
        guard let kind = SDE.Kind(rawValue: typeName), SDE.configKinds.contains(kind) else {
            let note = typeName == SDE.Kind.vpDiscrete.rawValue ? " (vp_discrete is read from a diffusers scheduler config)" : ""
            throw r.fail("sde.type", "expected one of \(SDE.configKinds.map(\.rawValue).joined(separator: ", ")), got '\(typeName)'\(note)")
        }
        let eps = try r.positive(o["eps"], "sde.eps")
        let samplingEps = try r.positive(o["sampling_eps"], "sde.sampling_eps") ?? eps
        let likelihoodEps = try r.positive(o["likelihood_eps"], "sde.likelihood_eps") ?? eps
        for (key, value) in [("sde.eps", eps), ("sde.sampling_eps", samplingEps), ("sde.likelihood_eps", likelihoodEps)] {
            if let v = value, v >= 1 { throw r.fail(key, "expected a time in (0, 1), got \(v)") }
        }
        switch kind {
        case .vp, .subvp:
            let b0 = try r.positive(o["beta_min"], "sde.beta_min") ?? 0.1
            let b1 = try r.positive(o["beta_max"], "sde.beta_max") ?? 20
            guard b1 >= b0 else { throw r.fail("sde.beta_max", "expected beta_max ≥ beta_min (\(b0)), got \(b1)") }
            return SDE(kind: kind, betaMin: b0, betaMax: b1, samplingEps: samplingEps, likelihoodEps: likelihoodEps)
        case .ve:
            let s0 = try r.positive(o["sigma_min"], "sde.sigma_min") ?? 0.01
            let s1 = try r.positive(o["sigma_max"], "sde.sigma_max") ?? 50
            guard s1 > s0 else { throw r.fail("sde.sigma_max", "expected sigma_max > sigma_min (\(s0)), got \(s1)") }
            return SDE(kind: kind, sigmaMin: s0, sigmaMax: s1, samplingEps: samplingEps, likelihoodEps: likelihoodEps)
        case .vePower:
            let s = try r.positive(o["sigma"], "sde.sigma") ?? 25
            guard s > 1 else { throw r.fail("sde.sigma", "expected sigma > 1, got \(s)") }
            return SDE(kind: kind, sigma: s, samplingEps: samplingEps, likelihoodEps: likelihoodEps)
        case .vpDiscrete:
            preconditionFailure("refused above")
        }
    }

    static func parseNetwork(_ r: ConfigReader, _ o: JSONObject, data: DataSpec) throws(ModelLoadError) -> NetworkSpec {
        let d = data.dimension
        let typeName = try r.requireString(o["type"], "network.type")
        switch typeName {
        case "mlp":
            return .mlp(hidden: try r.integer(o["hidden"], "network.hidden", atLeast: 1),
                        blocks: try r.integer(o["blocks"], "network.blocks", atLeast: 0),
                        embedDim: try r.integer(o["embed_dim"], "network.embed_dim", atLeast: 2))
        case "gmm":
            guard case .array(let items)? = o["components"], !items.isEmpty else {
                throw r.fail("network.components", "expected a non-empty array of {weight, mean, std}")
            }
            var components: [GaussianMixture.Component] = []
            for (i, item) in items.enumerated() {
                let key = "network.components[\(i)]"
                let c = try r.requireObject(item, key)
                guard let w = try r.number(c["weight"], "\(key).weight") else {
                    throw r.fail("\(key).weight", "missing (expected a positive number)")
                }
                guard w > 0 else { throw r.fail("\(key).weight", "expected a positive weight, got \(w)") }
                guard case .array = c["mean"] else {
                    throw r.fail("\(key).mean", "expected an array of \(d) numbers")
                }
                guard let mean = try r.scalarOrVector(c["mean"], "\(key).mean", count: d) else {
                    throw r.fail("\(key).mean", "missing")
                }
                guard let std = try r.scalarOrVector(c["std"], "\(key).std", count: d, positive: true) else {
                    throw r.fail("\(key).std", "missing (expected a positive number or \(d) of them)")
                }
                components.append(.init(weight: w, mean: mean, std: std))
            }
            return .gmm(components)
        case "empirical":
            let file = try r.string(o["data"], "network.data")
            if let f = file, f.isEmpty || f.hasPrefix("/") || f.split(separator: "/").contains("..") {
                throw r.fail("network.data", "expected a file name inside the model directory, got '\(f)'")
            }
            return .empirical(file: file)
        case "scorenet":
            var channels: [Int]?
            if let value = o["channels"] {
                guard case .array(let items) = value, items.count == 4 else {
                    throw r.fail("network.channels", "expected an array of 4 channel counts")
                }
                channels = []
                for (i, item) in items.enumerated() {
                    guard let c = try r.integer(item, "network.channels[\(i)]", atLeast: 1) else {
                        throw r.fail("network.channels[\(i)]", "expected a positive integer")
                    }
                    channels?.append(c)
                }
            }
            return .scorenet(channels: channels, embedDim: try r.integer(o["embed_dim"], "network.embed_dim", atLeast: 2))
        case "ncsnpp":
            return .ncsnpp(try NCSNppConfig.parse(o, file: r.file, shape: data.shape))
        default:
            throw r.fail("network.type", "expected one of mlp, gmm, empirical, scorenet, ncsnpp, got '\(typeName)'")
        }
    }
}
