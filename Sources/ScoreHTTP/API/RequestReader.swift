import ScoreJSON

/// Strict reading of a JSON request body: every field is checked for type and range,
/// and a field the endpoint does not know is a 400 (a typo must not silently change a
/// result). Messages name the field.
struct RequestReader {
    private let object: JSONObject
    private var known: Set<String> = []

    init(body: [UInt8]) throws(APIError) {
        let value: JSONValue
        do { value = try JSONValue.parse(body) } catch {
            throw .invalid("malformed JSON: \(error)")
        }
        guard case .object(let o) = value else {
            throw .invalid("the body must be a JSON object, got \(value.typeName)")
        }
        object = o
    }

    /// Fails on the first field not read.
    func rejectUnknown() throws(APIError) {
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw .invalid(field: unknown, "unknown field")
        }
    }

    mutating func value(_ field: String) -> JSONValue? {
        known.insert(field)
        guard let v = object[field] else { return nil }
        return v
    }

    mutating func int(_ field: String, _ range: ClosedRange<Int64>) throws(APIError) -> Int64? {
        guard let v = value(field) else { return nil }
        let i: Int64
        switch v {
        case .integer(let value): i = value
        case .number(let d) where d.rounded() == d && abs(d) <= 9_007_199_254_740_992:
            // JSON Schema's "integer" includes 2.0; beyond 2^53 a double is not exact.
            i = Int64(d)
        default:
            throw .invalid(field: field, "must be an integer, got \(v.typeName == "number" ? "a fraction" : v.typeName)")
        }
        guard range.contains(i) else {
            throw .invalid(field: field, "must be between \(range.lowerBound) and \(range.upperBound), got \(i)")
        }
        return i
    }

    mutating func number(_ field: String) throws(APIError) -> Double? {
        guard let v = value(field) else { return nil }
        guard let d = v.doubleValue else { throw .invalid(field: field, "must be a number, got \(v.typeName)") }
        return d
    }

    mutating func bool(_ field: String) throws(APIError) -> Bool? {
        guard let v = value(field) else { return nil }
        guard case .bool(let b) = v else { throw .invalid(field: field, "must be true or false, got \(v.typeName)") }
        return b
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ field: String, _ type: T.Type) throws(APIError) -> T?
    where T.RawValue == String {
        guard let v = value(field) else { return nil }
        guard case .string(let s) = v else { throw .invalid(field: field, "must be a string, got \(v.typeName)") }
        guard let t = T(rawValue: s) else {
            throw .invalid(field: field, "must be one of \(T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), got \"\(s)\"")
        }
        return t
    }

    /// Points `[[...], ...]`, each nested to `shape` (or flat with D values), as
    /// row-major Float64 values.
    mutating func points(_ field: String, shape: [Int], maxCount: Int) throws(APIError) -> [Double]? {
        guard let v = value(field) else { return nil }
        guard case .array(let rows) = v else { throw .invalid(field: field, "must be an array of points, got \(v.typeName)") }
        guard !rows.isEmpty else { throw .invalid(field: field, "must hold at least one point") }
        guard rows.count <= maxCount else { throw .invalid(field: field, "holds \(rows.count) points; at most \(maxCount)") }
        let d = shape.reduce(1, *)
        var out: [Double] = []
        out.reserveCapacity(rows.count * d)
        for (i, row) in rows.enumerated() {
            let before = out.count
            let nested = Self.flatten(row, shape: shape[...], into: &out)
            if !nested {
                out.removeSubrange(before...)
                guard case .array(let flat) = row, flat.count == d,
                      flat.allSatisfy({ $0.doubleValue != nil }) else {
                    throw .invalid(field: "\(field)[\(i)]", "must be a point of shape \(shape) (numbers)")
                }
                out += flat.map { $0.doubleValue! }
            }
        }
        return out
    }

    /// Appends a value nested exactly to `shape`; false when it does not fit.
    private static func flatten(_ v: JSONValue, shape: ArraySlice<Int>, into out: inout [Double]) -> Bool {
        guard let n = shape.first else {
            guard let d = v.doubleValue else { return false }
            out.append(d)
            return true
        }
        guard case .array(let items) = v, items.count == n else { return false }
        for item in items where !flatten(item, shape: shape.dropFirst(), into: &out) { return false }
        return true
    }
}
