import ArgumentParser
import ScoreCore
import ScoreJSON

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model's score s(x, t) at given points.",
        discussion: """
            Points are read in data space from JSON ([[...], ...]), CSV or .npy; the scores
            are the model-space scores the network gives, printed as {"score": [[...]]}:
            the same numbers POST /v1/models/{name}/score returns.

            Examples:
              scoreserve score Models/gmm-demo --input points.json --t 0.5
              scoreserve score Models/gmm-demo --input points.csv --t times.json
            """)

    @Argument(help: "The model directory.")
    var modelDirectory: String

    @Option(help: "File of points in data space (.json, .csv or .npy).")
    var input: String

    @Option(name: .customLong("t"), help: "One time in (0, 1] for every point, or a file of per-point times.")
    var t: String

    func run() throws {
        let model = try loadModel(modelDirectory)
        let d = model.data.dimension
        let x: [Double]
        do { x = try PointsFile.read(path: input, dimension: d) } catch {
            throw ValidationError("--input: \(error)")
        }
        let n = x.count / d
        var times: [Double]
        if let value = Double(t) {
            times = Array(repeating: value, count: n)
        } else {
            do { times = try PointsFile.read(path: t, dimension: 1) } catch {
                throw ValidationError("--t: \(error)")
            }
            guard times.count == n else {
                throw ValidationError("--t: \(times.count) times for \(n) points")
            }
        }
        if let bad = times.first(where: { !($0 > 0 && $0 <= model.sde.T) }) {
            throw ValidationError("--t: times must be in (0, \(model.sde.T)], got \(bad)")
        }
        let scores = model.scores(dataSpace: x, times: times)
        if let i = scores.firstIndex(where: { !$0.isFinite }) {
            throw ValidationError("the score of point \(i / d) is not finite")
        }
        print(try JSONValue.object(JSONObject(["score": JSONValue.points(scores, shape: model.data.shape)])).encoded())
    }
}
