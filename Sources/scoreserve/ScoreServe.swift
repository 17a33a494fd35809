import ArgumentParser

@main
struct ScoreServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scoreserve",
        abstract: "Sample score-based generative models on CPU cores and serve them over HTTP.",
        discussion: """
            A model is a directory with a config.json (and a model.safetensors for trained
            networks); see docs/model-format.md.
            """,
        subcommands: [Inspect.self, Score.self, Sample.self, Concat.self, Likelihood.self, Encode.self, Train.self, Serve.self, Health.self, Plot.self, Bench.self])
}
