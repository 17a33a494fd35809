import Foundation
import ScoreCore
import ScoreJSON

/// Writes a trained network as a model directory in the contract's format:
/// `config.json`, `model.safetensors` (the EMA weights, training settings in
/// `__metadata__`) and `loss.csv` (the loss log).
public enum ModelDirectoryWriter {
    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func write(directory: String, name: String, description: String, data: DataSpec, sde: SDE,
                             layout: MLPLayout, parameters: [Float], metadata: [String: String],
                             lossLog: [(step: Int, loss: Double)]) throws {
        let dir = URL(fileURLWithPath: directory)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw WriteError(description: "cannot create \(directory): \(error)")
        }
        func scalarOrArray(_ v: [Double]) -> JSONValue {
            Set(v).count == 1 ? .number(v[0]) : .array(v.map { .number($0) })
        }
        var dataObject = JSONObject([
            "shape": .array(data.shape.map { .integer(Int64($0)) }),
            "shift": scalarOrArray(data.shift), "scale": scalarOrArray(data.scale),
        ])
        if let levels = data.levels { dataObject["levels"] = .integer(Int64(levels)) }
        if case .logit(let alpha) = data.transform {
            dataObject["transform"] = .string(data.transform.name)
            dataObject["logit_alpha"] = .number(alpha)
        }
        let config = JSONObject([
            "name": .string(name), "description": .string(description),
            "data": .object(dataObject), "sde": .object(sde.configObject),
            "network": .object(JSONObject([
                "type": .string("mlp"), "hidden": .integer(Int64(layout.hidden)),
                "blocks": .integer(Int64(layout.blocks)), "embed_dim": .integer(Int64(layout.embedDim)),
            ])),
            "weights": .string("model.safetensors"),
        ])
        let bytes = SafeTensors.encode(layout.entries(parameters), metadata: metadata)
        var log = "step,loss\n"
        for entry in lossLog { log += "\(entry.step),\(entry.loss)\n" }
        do {
            try Data((try JSONValue.object(config).encoded() + "\n").utf8).write(to: dir.appendingPathComponent("config.json"))
            try Data(bytes).write(to: dir.appendingPathComponent("model.safetensors"))
            try Data(log.utf8).write(to: dir.appendingPathComponent("loss.csv"))
        } catch {
            throw WriteError(description: "cannot write the model to \(directory): \(error)")
        }
    }
}
