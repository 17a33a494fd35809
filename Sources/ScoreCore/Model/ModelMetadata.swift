/// A network hyperparameter's value: the format's integers and integer lists.
public enum Hyperparameter: Sendable, Equatable {
    case integer(Int)
    case integers([Int])
}

/// What a model is, as a plain value: the API renders it as `/v1/models` lists it, the
/// CLI prints it for `inspect`.
public struct ModelMetadata: Sendable {
    public let name: String
    public let description: String
    /// The SDE's `type`.
    public let sdeType: String
    /// Its parameters as the format names them (`beta_min`, ...), in order.
    public let sdeParameters: [(String, Double)]
    public let samplingEps: Double
    public let likelihoodEps: Double
    public let dataShape: [Int]
    /// The network's `type`.
    public let networkType: String
    public let hyperparameters: [(String, Hyperparameter)]
    public let parameterCount: Int
    /// Integer levels of the data, when it has them.
    public let levels: Int?
    /// The data map before shift and scale.
    public let dataTransform: DataTransform
}

extension ScoreModel {
    /// The model's metadata.
    public var metadata: ModelMetadata {
        ModelMetadata(name: name, description: config.description, sdeType: sde.kind.rawValue,
                      sdeParameters: sde.parameters, samplingEps: sde.samplingEps, likelihoodEps: sde.likelihoodEps,
                      dataShape: data.shape, networkType: network.typeName, hyperparameters: network.hyperparameters,
                      parameterCount: network.parameterCount, levels: data.levels,
                      dataTransform: data.transform)
    }
}
