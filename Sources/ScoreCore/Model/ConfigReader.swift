import ScoreJSON

/// Typed, path-aware access to a parsed config.json, so every error names the file,
/// the key and what was expected. Unknown keys are ignored, as the format says.
struct ConfigReader {
    let file: String

    func fail(_ key: String, _ message: String) -> ModelLoadError {
        ModelLoadError(file: file, subject: "key '\(key)'", message)
    }

    func object(_ value: JSONValue?, _ key: String) throws(ModelLoadError) -> JSONObject? {
        guard let value else { return nil }
        guard case .object(let o) = value else { throw fail(key, "expected an object, got \(value.typeName)") }
        return o
    }

    func requireObject(_ value: JSONValue?, _ key: String) throws(ModelLoadError) -> JSONObject {
        guard let o = try object(value, key) else { throw fail(key, "missing (expected an object)") }
        return o
    }

    func string(_ value: JSONValue?, _ key: String) throws(ModelLoadError) -> String? {
        guard let value else { return nil }
        guard case .string(let s) = value else { throw fail(key, "expected a string, got \(value.typeName)") }
        return s
    }

    func requireString(_ value: JSONValue?, _ key: String) throws(ModelLoadError) -> String {
        guard let s = try string(value, key) else { throw fail(key, "missing (expected a string)") }
        return s
    }

    /// A finite number; integers are accepted where reals are expected.
    func number(_ value: JSONValue?, _ key: String) throws(ModelLoadError) -> Double? {
        guard let value else { return nil }
        guard let d = value.doubleValue else { throw fail(key, "expected a number, got \(value.typeName)") }
        guard d.isFinite else { throw fail(key, "expected a finite number") }
        return d
    }

    func positive(_ value: JSONValue?, _ key: String) throws(ModelLoadError) -> Double? {
        guard let d = try number(value, key) else { return nil }
        guard d > 0 else { throw fail(key, "expected a positive number, got \(d)") }
        return d
    }

    func integer(_ value: JSONValue?, _ key: String, atLeast minimum: Int) throws(ModelLoadError) -> Int? {
        guard let value else { return nil }
        guard case .integer(let i) = value else { throw fail(key, "expected an integer, got \(value.typeName)") }
        guard i >= minimum, i <= Int64(Int32.max) else {
            throw fail(key, "expected an integer from \(minimum) to \(Int32.max), got \(i)")
        }
        return Int(i)
    }

    /// A scalar or an array of `count` numbers, as a per-dimension array.
    func scalarOrVector(_ value: JSONValue?, _ key: String, count: Int,
                        positive: Bool = false, nonzero: Bool = false) throws(ModelLoadError) -> [Double]? {
        guard let value else { return nil }
        var values: [Double]
        if case .array(let items) = value {
            guard items.count == count else {
                throw fail(key, "expected a number or an array of \(count) numbers, got an array of \(items.count)")
            }
            values = []
            for (i, item) in items.enumerated() {
                guard let d = try number(item, "\(key)[\(i)]") else { throw fail(key, "missing element") }
                values.append(d)
            }
        } else if let d = value.doubleValue {
            guard d.isFinite else { throw fail(key, "expected a finite number") }
            values = Array(repeating: d, count: count)
        } else {
            throw fail(key, "expected a number or an array of \(count) numbers, got \(value.typeName)")
        }
        if positive, let bad = values.first(where: { !($0 > 0) }) {
            throw fail(key, "expected positive values, got \(bad)")
        }
        if nonzero, values.contains(0) { throw fail(key, "expected non-zero values, got 0") }
        return values
    }
}
