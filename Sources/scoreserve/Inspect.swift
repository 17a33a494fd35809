import ArgumentParser
import ScoreCore
import ScoreHTTP
import ScoreJSON

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a model directory and describe it.",
        discussion: """
            Prints the name, SDE, network, data shape, parameter count and tensor list.
            A model that does not load prints the load error and exits non-zero.

            Example:
              scoreserve inspect Models/gmm-demo
            """)

    @Argument(help: "The model directory (config.json, model.safetensors).")
    var modelDirectory: String

    @Flag(help: "Print the model's metadata as JSON (as GET /v1/models/{name} answers).")
    var json = false

    func run() throws {
        let model = try loadModel(modelDirectory)
        if json {
            print(try JSONValue.object(model.info).encoded())
        } else {
            print(report(model))
        }
    }
}

/// Loads a model or exits with its load error.
func loadModel(_ directory: String) throws -> ScoreModel {
    do { return try ScoreModel.load(directory: directory) } catch {
        throw ValidationError("cannot load model: \(error)")
    }
}

/// A human-readable description of a model for `inspect`.
func report(_ model: ScoreModel) -> String {
    let m = model.metadata, data = model.data
    func list(_ v: [Double]) -> String {
        Set(v).count == 1 ? "\(v[0])" : "[" + v.map { "\($0)" }.joined(separator: ", ") + "]"
    }
    let sdeText = (["type=\(m.sdeType)"] + m.sdeParameters.map { "\($0.0)=\($0.1)" }
        + ["sampling_eps=\(m.samplingEps)", "likelihood_eps=\(m.likelihoodEps)"]).joined(separator: " ")
    let netText = (["type=\(m.networkType)"] + m.hyperparameters.map { name, value in
        switch value {
        case .integer(let i): "\(name)=\(i)"
        case .integers(let list): "\(name)=[" + list.map(String.init).joined(separator: ",") + "]"
        }
    }).joined(separator: " ")
    var lines = [
        "name:        \(m.name)",
        "description: \(m.description)",
        "directory:   \(model.directory)",
        "sde:         \(sdeText)",
        "network:     \(netText)",
        "data shape:  \(data.shape) (D = \(data.dimension))",
        "data shift:  \(list(data.shift))",
        "data scale:  \(list(data.scale))",
    ]
    if let levels = m.levels { lines.append("data levels: \(levels)") }
    if case .logit(let alpha) = data.transform { lines.append("data map:    logit, alpha \(alpha) (then shift and scale)") }
    lines.append("parameters:  \(m.parameterCount)")
    if !model.weightsMetadata.isEmpty {
        lines.append("metadata:    " + model.weightsMetadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }
    if !model.tensors.isEmpty {
        lines.append("tensors (\(model.tensors.count)):")
        let width = model.tensors.map(\.name.count).max() ?? 0
        for t in model.tensors {
            lines.append("  " + t.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(t.dtype.rawValue)  \(t.shape)")
        }
    }
    return lines.joined(separator: "\n")
}
