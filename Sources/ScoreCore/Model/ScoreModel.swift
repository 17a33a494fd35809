import Foundation
import ScoreJSON

/// A loaded model: its config, SDE, data transform and batched score network.
public struct ScoreModel: Sendable {
    public let directory: String
    public let config: ModelConfig
    public let network: any ScoreNetwork
    /// The weights file's tensors and metadata, for inspection (empty without one).
    public let tensors: [SafeTensors.TensorInfo]
    public let weightsMetadata: [String: String]

    /// A model from parts (tools and tests; `load` is the usual way in).
    public init(directory: String, config: ModelConfig, network: any ScoreNetwork,
                tensors: [SafeTensors.TensorInfo] = [], weightsMetadata: [String: String] = [:]) {
        precondition(network.dimension == config.data.dimension)
        self.directory = directory
        self.config = config
        self.network = network
        self.tensors = tensors
        self.weightsMetadata = weightsMetadata
    }

    public var name: String { config.name }
    public var sde: SDE { config.sde }
    public var data: DataSpec { config.data }

    /// Loads a model directory (`config.json` plus the weights or data file it names).
    public static func load(directory: String) throws(ModelLoadError) -> ScoreModel {
        let dir = URL(fileURLWithPath: directory)
        let configPath = dir.appendingPathComponent("config.json").path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelLoadError(file: directory, "not a model directory")
        }
        let defaultName = dir.standardizedFileURL.lastPathComponent
        let configBytes = FileManager.default.contents(atPath: configPath).map { [UInt8]($0) }
        let config: ModelConfig
        if let diffusers = try DiffusersDirectory.config(directory: directory, configBytes: configBytes,
                                                         defaultName: defaultName) {
            config = diffusers
        } else {
            guard let configBytes else {
                throw ModelLoadError(file: configPath, "missing or unreadable (every model directory needs a config.json, or diffusers' model_index.json)")
            }
            config = try ModelConfig.parse(configBytes, file: configPath, defaultName: defaultName)
        }
        let d = config.data.dimension
        // The trained networks' weights file.
        let weightsPath = dir.appendingPathComponent(config.weights ?? "model.safetensors").path
        func weights() throws(ModelLoadError) -> SafeTensors {
            do { return try SafeTensors.load(path: weightsPath) } catch {
                throw ModelLoadError(file: weightsPath, error.description)
            }
        }
        switch config.network {
        case .mlp(let hidden, let blocks, let embedDim):
            let file = try weights()
            let net = try MLP.load(file, path: weightsPath, sde: config.sde, dimension: d,
                                   hidden: hidden, blocks: blocks, embedDim: embedDim)
            return ScoreModel(directory: directory, config: config, network: net,
                              tensors: file.tensors, weightsMetadata: file.metadata)
        case .scorenet(let channels, let embedDim):
            let file = try weights()
            let net = try ScoreNet.load(file, path: weightsPath, sde: config.sde, shape: config.data.shape,
                                        channels: channels, embedDim: embedDim)
            return ScoreModel(directory: directory, config: config, network: net,
                              tensors: file.tensors, weightsMetadata: file.metadata)
        case .unet2d(let unet, let prediction):
            let file = try weights()
            let net = try UNet2D.load(file, path: weightsPath, config: unet, sde: config.sde, prediction: prediction)
            return ScoreModel(directory: directory, config: config, network: net,
                              tensors: file.tensors, weightsMetadata: file.metadata)
        case .ncsnpp(let ncsnpp):
            let file = try weights()
            let net = try UNet2D.loadNCSNpp(file, path: weightsPath, config: ncsnpp, shape: config.data.shape, sde: config.sde)
            return ScoreModel(directory: directory, config: config, network: net,
                              tensors: file.tensors, weightsMetadata: file.metadata)
        case .gmm(let components):
            return ScoreModel(directory: directory, config: config,
                              network: GaussianMixture(sde: config.sde, components: components),
                              tensors: [], weightsMetadata: [:])
        case .empirical(let fileName):
            let candidates = fileName.map { [$0] } ?? ["data.npy", "data.csv"]
            guard let found = candidates.map({ dir.appendingPathComponent($0).path })
                .first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw ModelLoadError(file: dir.appendingPathComponent(candidates[0]).path,
                                     "missing data file for network 'empirical' (expected \(candidates.joined(separator: " or ")))")
            }
            var points: [Double]
            do { points = try PointsFile.read(path: found, dimension: d) } catch {
                throw ModelLoadError(file: found, error.message)
            }
            guard !points.isEmpty else { throw ModelLoadError(file: found, "holds no points") }
            config.data.toModel(&points)
            return ScoreModel(directory: directory, config: config,
                              network: Empirical(sde: config.sde, dimension: d, points: points),
                              tensors: [], weightsMetadata: [:])
        }
    }

    /// Loads every model directory (a folder with a config.json, or a diffusers pipeline's
    /// model_index.json) directly under `root`,
    /// sorted by name. Names must be unique.
    public static func loadAll(root: String) throws(ModelLoadError) -> [ScoreModel] {
        try loadAll(roots: [root])
    }

    /// Loads the model directories under each of `roots` in turn (each root sorted by
    /// name), so a deployment can add a mounted folder of its own models to the shipped
    /// ones. Names must be unique across all of them.
    public static func loadAll(roots: [String]) throws(ModelLoadError) -> [ScoreModel] {
        var models: [ScoreModel] = []
        for root in roots {
            let entries: [String]
            do { entries = try FileManager.default.contentsOfDirectory(atPath: root) } catch {
                throw ModelLoadError(file: root, "cannot list the models directory")
            }
            for entry in entries.sorted() where !entry.hasPrefix(".") {
                let path = URL(fileURLWithPath: root).appendingPathComponent(entry).path
                guard FileManager.default.fileExists(atPath: path + "/config.json")
                    || FileManager.default.fileExists(atPath: path + "/model_index.json") else { continue }
                let model = try load(directory: path)
                if let other = models.first(where: { $0.name == model.name }) {
                    throw ModelLoadError(file: path, subject: "key 'name'",
                                         "'\(model.name)' is also the name of \(other.directory)")
                }
                models.append(model)
            }
        }
        return models
    }

    /// Scores of data-space points `x` ([n × D]) at per-point times: the points are
    /// mapped to model space and the network's model-space scores returned.
    public func scores(dataSpace x: [Double], times: [Double]) -> [Float] {
        var m = x
        data.toModel(&m)
        let workspace = ScoreWorkspace(network: network, rows: Swift.min(Swift.max(times.count, 1), 256))
        return workspace.score(m.map { Float($0) }, times: times)
    }
}
