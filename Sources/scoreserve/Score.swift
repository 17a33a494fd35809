import ArgumentParser
import ScoreCore
import ScoreHTTP
import ScoreSampling

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model's score s(x, t) at given points.",
        discussion: """
            Points are read in data space from JSON ([[...], ...]), CSV or .npy; the scores
            are the model-space scores the network gives, printed as {"score": [[...]]}:
            the same answer POST /v1/models/{name}/score gives, by the same engine path.

            Fields:
            \(FieldFlags.help(.score))

            Examples:
              scoreserve score Models/gmm-demo --input points.json --t 0.5
              scoreserve score Models/gmm-demo --input points.csv --t times.json
            """)

    @Argument(help: "The model directory.") var modelDirectory: String
    @OptionGroup var engineOptions: EngineOptions
    @Argument(parsing: .allUnrecognized, help: "The request's fields (see Fields above).") var fields: [String] = []

    func run() throws {
        let model = try loadModel(modelDirectory)
        let values = try FieldFlags.parse(fields, .score, model: model)
        let plan = try resolve { () throws(SamplingError) in try ScorePlan(model, ScoreOptions(values)) }
        let (result, _) = try engineOptions.run(plan, values: values, label: "scores")
        try emit(Answer.score(result, model: model), points: result.scores, shape: model.data.shape,
                 format: engineOptions.resolvedFormat, output: engineOptions.output)
    }
}
