import ScoreCore
import ScoreJSON

extension ModelMetadata {
    /// The metadata as `GET /v1/models/{name}` answers it.
    public var json: JSONObject {
        var sde = JSONObject(["type": .string(sdeType)])
        for (name, value) in sdeParameters { sde[name] = .number(value) }
        sde["sampling_eps"] = .number(samplingEps)
        sde["likelihood_eps"] = .number(likelihoodEps)
        var network = JSONObject(["type": .string(networkType)])
        for (name, value) in hyperparameters {
            switch value {
            case .integer(let i): network[name] = .integer(Int64(i))
            case .integers(let list): network[name] = .array(list.map { .integer(Int64($0)) })
            }
        }
        var o = JSONObject([
            "name": .string(name),
            "description": .string(description),
            "sde": .object(sde),
            "data_shape": .array(dataShape.map { .integer(Int64($0)) }),
            "network": .object(network),
            "parameters": .integer(Int64(parameterCount)),
        ])
        if let levels { o["levels"] = .integer(Int64(levels)) }
        if case .logit(let alpha) = dataTransform {
            o["data_transform"] = .object(JSONObject(["type": .string(dataTransform.name), "alpha": .number(alpha)]))
        }
        return o
    }
}

extension ScoreModel {
    /// The model's metadata as `/v1/models` lists it.
    public var info: JSONObject { metadata.json }
}
