import ArgumentParser
import ScoreCore

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load every model under a directory and serve them over HTTP.",
        discussion: """
            The HTTP service is not built yet: this loads and lists the models, so a
            broken model directory is reported now.

            Example:
              scoreserve serve --models Models
            """)

    @Option(help: "Directory holding one sub-directory per model.")
    var models = "Models"

    func run() throws {
        let loaded: [ScoreModel]
        do { loaded = try ScoreModel.loadAll(root: models) } catch {
            throw ValidationError("cannot load models: \(error)")
        }
        print("loaded \(loaded.count) model(s) from \(models):")
        for m in loaded {
            print("  \(m.name): \(m.sde.kind.rawValue) sde, \(m.network.typeName) network, data shape \(m.data.shape), \(m.network.parameterCount) parameters")
        }
        print("HTTP serving is not built yet (see the HTTP service issue); nothing is listening.")
    }
}
