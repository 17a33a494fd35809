import ArgumentParser
import ScoreCore
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
            print(model.report)
        }
    }
}

/// Loads a model or exits with its load error.
func loadModel(_ directory: String) throws -> ScoreModel {
    do { return try ScoreModel.load(directory: directory) } catch {
        throw ValidationError("cannot load model: \(error)")
    }
}
