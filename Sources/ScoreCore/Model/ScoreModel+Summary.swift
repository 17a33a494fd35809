import Foundation
import ScoreJSON

extension ScoreModel {
    /// The SDE with its parameters and eps values.
    public var sdeSummary: JSONObject {
        var o = sde.configObject
        o["sampling_eps"] = .number(sde.samplingEps)
        o["likelihood_eps"] = .number(sde.likelihoodEps)
        return o
    }

    /// The model's metadata as `/v1/models` lists it.
    public var info: JSONObject {
        var o = JSONObject([
            "name": .string(name),
            "description": .string(config.description),
            "sde": .object(sdeSummary),
            "data_shape": .array(data.shape.map { .integer(Int64($0)) }),
            "network": .object(network.summary),
            "parameters": .integer(Int64(network.parameterCount)),
        ])
        if let levels = data.levels { o["levels"] = .integer(Int64(levels)) }
        return o
    }

    /// A human-readable report for `scoreserve inspect`.
    public var report: String {
        func list(_ v: [Double]) -> String {
            Set(v).count == 1 ? "\(v[0])" : "[" + v.map { "\($0)" }.joined(separator: ", ") + "]"
        }
        let sdeText = sdeSummary.pairs.map { "\($0.key)=\(Self.plain($0.value))" }.joined(separator: " ")
        let netText = network.summary.pairs.map { "\($0.key)=\(Self.plain($0.value))" }.joined(separator: " ")
        var lines = [
            "name:        \(name)",
            "description: \(config.description)",
            "directory:   \(directory)",
            "sde:         \(sdeText)",
            "network:     \(netText)",
            "data shape:  \(data.shape) (D = \(data.dimension))",
            "data shift:  \(list(data.shift))",
            "data scale:  \(list(data.scale))",
        ]
        if let levels = data.levels { lines.append("data levels: \(levels)") }
        lines.append("parameters:  \(network.parameterCount)")
        if !weightsMetadata.isEmpty {
            lines.append("metadata:    " + weightsMetadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        if !tensors.isEmpty {
            lines.append("tensors (\(tensors.count)):")
            let width = tensors.map(\.name.count).max() ?? 0
            for t in tensors {
                lines.append("  " + t.name.padding(toLength: width, withPad: " ", startingAt: 0)
                             + "  \(t.dtype.rawValue)  \(t.shape)")
            }
        }
        return lines.joined(separator: "\n")
    }

    private static func plain(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): s
        case .integer(let i): "\(i)"
        case .number(let d): "\(d)"
        default: (try? v.encoded()) ?? "?"
        }
    }
}
