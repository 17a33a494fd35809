import ArgumentParser
import ScoreCore
import ScoreSampling

/// A command's request fields as `--kebab-case` flags, read by the request-field table:
/// the same names, ranges and defaults as the API's JSON fields. Points are files
/// (.json, .csv or .npy); booleans take `true` or `false`, or stand alone for true
/// (`--denoise false --log-likelihood true`, or `--log-likelihood`).
enum FieldFlags {
    /// The operation's fields from `arguments` (what the command's own options left).
    static func parse(_ arguments: [String], _ operation: ScoreSampling.Operation, model: ScoreModel) throws -> FieldValues {
        let table = RequestFields.table(operation)
        var values = FieldValues()
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            guard argument.hasPrefix("--") else { throw ValidationError("unexpected argument '\(argument)'") }
            var flag = String(argument.dropFirst(2)), inline: String?
            if let eq = flag.firstIndex(of: "=") {
                inline = String(flag[flag.index(after: eq)...])
                flag = String(flag[..<eq])
            }
            guard let row = table.first(where: { $0.flagName == flag }) else {
                throw ValidationError("unknown option '--\(flag)' (see --help)")
            }
            var text = inline
            if text == nil, row.kind == .boolean {
                // A bare boolean flag means true; a following true/false is its value.
                if i < arguments.count, ["true", "false"].contains(arguments[i]) { text = arguments[i]; i += 1 } else { text = "true" }
            }
            if text == nil {
                guard i < arguments.count else { throw ValidationError("--\(flag) needs a value") }
                text = arguments[i]
                i += 1
            }
            guard values[row.name] == nil else { throw ValidationError("--\(flag) is given twice") }
            do {
                values[row.name] = try row.check(try value(text!, row, model: model))
            } catch let error as SamplingError {
                guard case .invalidArgument(_, let message) = error else { throw error }
                throw ValidationError("--\(flag): \(message)")
            }
        }
        for row in table where row.required && values[row.name] == nil {
            throw ValidationError("--\(row.flagName) is required")
        }
        return values
    }

    private static func value(_ text: String, _ row: RequestField, model: ScoreModel) throws -> FieldValue {
        func fail(_ expected: String) -> ValidationError { ValidationError("--\(row.flagName): expected \(expected), got '\(text)'") }
        switch row.kind {
        case .integer:
            guard let i = Int64(text) else { throw fail("an integer") }
            return .integer(i)
        case .number:
            guard let d = Double(text) else { throw fail("a number") }
            return .number(d)
        case .boolean:
            guard let b = Bool(text) else { throw fail("true or false") }
            return .bool(b)
        case .choice(let allowed):
            // Dashes stand for underscores: --sampler dpm-solver.
            let underscored = text.replacingOccurrences(of: "-", with: "_")
            return .string(allowed.contains(underscored) ? underscored : text)
        case .points:
            return .points(try readPoints(text, row, dimension: model.data.dimension))
        case .times:
            if let d = Double(text) { return .number(d) }
            return .numbers(try readPoints(text, row, dimension: 1))
        }
    }

    private static func readPoints(_ path: String, _ row: RequestField, dimension: Int) throws -> [Double] {
        do { return try PointsFile.read(path: path, dimension: dimension) } catch {
            throw ValidationError("--\(row.flagName): \(error)")
        }
    }

    /// The operation's flags for `--help`: one line each, from the table.
    static func help(_ operation: ScoreSampling.Operation) -> String {
        let rows = RequestFields.table(operation)
        let width = rows.map { $0.flagName.count }.max() ?? 0
        return rows.map { row in
            var text = row.description
            if operation == .sample && row.samplerSpecific {
                text += " [\(Samplers.applicability(of: row.name))]"
            }
            let flag = "--" + row.flagName.padding(toLength: width, withPad: " ", startingAt: 0)
            return "  \(flag)  \(placeholder(row.kind))  \(text)"
        }.joined(separator: "\n")
    }

    private static func placeholder(_ kind: RequestField.Kind) -> String {
        switch kind {
        case .integer: "<int>   "
        case .number: "<num>   "
        case .boolean: "[bool]  "
        case .choice: "<name>  "
        case .points: "<file>  "
        case .times: "<t|file>"
        }
    }
}
