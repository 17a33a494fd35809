import Foundation
import ScoreJSON

/// The JSON files diffusers writes (`config.json`, `scheduler_config.json`,
/// `model_index.json`) come from Python's `json.dump`, which writes `NaN`, `Infinity` and
/// `-Infinity` where strict JSON has no token (DPMSolverMultistepScheduler's
/// `lambda_min_clipped` is `-Infinity`). Those tokens are read as `null`, Python's None:
/// no field ScoreServe reads takes a non-finite value.
enum DiffusersJSON {
    /// The top-level object of the file at `path`; errors name the file.
    static func object(path: String) throws(ModelLoadError) -> JSONObject {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ModelLoadError(file: path, "missing or unreadable")
        }
        let root: JSONValue
        do { root = try JSONValue.parse(nonFiniteAsNull([UInt8](data))) } catch {
            throw ModelLoadError(file: path, "invalid JSON: \(error)")
        }
        guard case .object(let o) = root else {
            throw ModelLoadError(file: path, "expected a JSON object at the top level, got \(root.typeName)")
        }
        return o
    }

    /// `bytes` with each `NaN`, `Infinity` and `-Infinity` outside strings replaced by
    /// `null` (padded with spaces, so positions in error messages stay right).
    static func nonFiniteAsNull(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes, i = 0, inString = false
        let tokens: [[UInt8]] = [Array("-Infinity".utf8), Array("Infinity".utf8), Array("NaN".utf8)]
        while i < out.count {
            let c = out[i]
            if inString {
                if c == UInt8(ascii: "\\") { i += 2; continue }
                if c == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            if c == UInt8(ascii: "\"") { inString = true; i += 1; continue }
            if let token = tokens.first(where: { out[i...].starts(with: $0) }) {
                let replacement = Array("null".utf8) + Array(repeating: UInt8(ascii: " "), count: token.count - 4)
                out.replaceSubrange(i..<i + token.count, with: replacement)
                i += token.count
                continue
            }
            i += 1
        }
        return out
    }
}

/// Reads diffusers' config keys with Python's defaults: an absent key takes the default
/// of the class's `__init__`, `null` is None. Every error names the file and the key.
struct DiffusersConfigReader {
    let object: JSONObject
    let reader: ConfigReader
    /// The keys read so far, so that the rest can be refused by name.
    private(set) var known: Set<String> = []

    /// Put before every key in errors (`network.` for a section of config.json).
    let prefix: String

    init(_ object: JSONObject, file: String, prefix: String = "") {
        self.object = object
        self.prefix = prefix
        reader = ConfigReader(file: file)
    }

    func fail(_ key: String, _ message: String) -> ModelLoadError { reader.fail(prefix + key, message) }

    /// The raw value, nil when absent or null.
    mutating func value(_ key: String) -> JSONValue? {
        known.insert(key)
        if case .null? = object[key] { return nil }
        return object[key]
    }

    /// Whether the key is present (even as null).
    func has(_ key: String) -> Bool { object[key] != nil }

    mutating func int(_ key: String, default d: Int?, atLeast minimum: Int = 0) throws(ModelLoadError) -> Int? {
        let present = has(key)
        guard let v = value(key) else { return present ? nil : d }
        return try reader.integer(v, prefix + key, atLeast: minimum)
    }

    mutating func double(_ key: String, default d: Double?) throws(ModelLoadError) -> Double? {
        let present = has(key)
        guard let v = value(key) else { return present ? nil : d }
        return try reader.number(v, prefix + key)
    }

    mutating func bool(_ key: String, default d: Bool) throws(ModelLoadError) -> Bool {
        guard let v = value(key) else {
            if has(key) { throw fail(key, "expected true or false, got null") }
            return d
        }
        guard case .bool(let b) = v else { throw fail(key, "expected true or false, got \(v.typeName)") }
        return b
    }

    mutating func string(_ key: String, default d: String?) throws(ModelLoadError) -> String? {
        let present = has(key)
        guard let v = value(key) else { return present ? nil : d }
        return try reader.string(v, prefix + key)
    }

    mutating func strings(_ key: String, default d: [String]) throws(ModelLoadError) -> [String] {
        guard let v = value(key) else {
            if has(key) { throw fail(key, "expected an array of strings, got null") }
            return d
        }
        guard case .array(let items) = v, !items.isEmpty else { throw fail(key, "expected a non-empty array of strings") }
        var out: [String] = []
        for (i, item) in items.enumerated() { out.append(try reader.requireString(item, "\(prefix)\(key)[\(i)]")) }
        return out
    }

    mutating func ints(_ key: String, default d: [Int]?, atLeast minimum: Int = 1) throws(ModelLoadError) -> [Int]? {
        let present = has(key)
        guard let v = value(key) else { return present ? nil : d }
        guard case .array(let items) = v, !items.isEmpty else { throw fail(key, "expected a non-empty array of integers") }
        var out: [Int] = []
        for (i, item) in items.enumerated() {
            guard let n = try reader.integer(item, "\(prefix)\(key)[\(i)]", atLeast: minimum) else { throw fail(key, "missing element") }
            out.append(n)
        }
        return out
    }

    /// Refuses `value` of `key` unless it is one of `allowed` (nil meaning null/None).
    func only(_ key: String, _ value: String?, _ allowed: [String?]) throws(ModelLoadError) {
        guard allowed.contains(value) else {
            let list = allowed.map { $0.map { "'\($0)'" } ?? "null" }.joined(separator: " or ")
            throw fail(key, "\(value.map { "'\($0)'" } ?? "null") is not supported (ScoreServe serves \(list))")
        }
    }

    /// Refuses every key not read (keys starting with `_` are diffusers' bookkeeping).
    func rejectUnknown(_ what: String) throws(ModelLoadError) {
        if let key = object.keys.first(where: { !$0.hasPrefix("_") && !known.contains($0) }) {
            throw fail(key, "unknown \(what) key: ScoreServe cannot tell what it changes, so it refuses the model")
        }
    }
}
