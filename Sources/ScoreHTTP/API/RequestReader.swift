import ScoreJSON
import ScoreSampling

/// Reads a JSON request body by the request-field table: every field is checked for
/// type and range by its row, and a field the operation does not have is a 400 (a typo
/// must not silently change a result). Messages name the field.
enum RequestReader {
    /// The fields of `body` for `table`'s operation; points are nested to `shape`.
    static func read(_ body: [UInt8], table: [RequestField], shape: [Int]) throws(APIError) -> FieldValues {
        let value: JSONValue
        do { value = try JSONValue.parse(body) } catch {
            throw outOfRange(error, body, table) ?? .invalid("malformed JSON: \(error)")
        }
        guard case .object(let object) = value else {
            throw .invalid("the body must be a JSON object, got \(value.typeName)")
        }
        var values = FieldValues()
        for (name, item) in object.pairs {
            guard let row = table.first(where: { $0.name == name }) else {
                throw .invalid(field: name, "unknown field")
            }
            do throws(SamplingError) {
                values[name] = try row.check(try Self.value(item, row, shape: shape))
            } catch {
                throw APIError(error)
            }
        }
        for row in table where row.required && values[row.name] == nil {
            throw .invalid(field: row.name, "is required")
        }
        return values
    }

    /// A number the parser could not hold (past 64 bits, past Double) as the 400 of the
    /// field it was given for, when that can be found.
    private static func outOfRange(_ error: JSONError, _ body: [UInt8], _ table: [RequestField]) -> APIError? {
        guard error.isNumberOutOfRange, let (name, text) = JSONMember.containing(error.position, in: body) else { return nil }
        guard let row = table.first(where: { $0.name == name }) else { return .invalid(field: name, "unknown field") }
        // The value is quoted only when it is a bare number of sensible length.
        let bare = text.count <= 40 && !text.isEmpty && text.allSatisfy { "0123456789+-.eE".contains($0) }
        if !bare { return .invalid(field: name, "holds a number too large to represent") }
        switch row.kind {
        case .integer(let range):
            return .invalid(field: name, "must be between \(range.lowerBound) and \(range.upperBound), got \(text)")
        case .number(let range):
            return .invalid(field: name, "must be \(range), got \(text)")
        case .points, .times:
            return .invalid(field: name, "holds a number too large to represent")
        case .boolean, .choice:
            return .invalid(field: name, "must be \(row.kind == .boolean ? "true or false" : "a string"), got a number")
        }
    }

    /// A JSON value as the row's kind of field value (its range is checked by the row).
    private static func value(_ v: JSONValue, _ row: RequestField, shape: [Int]) throws(SamplingError) -> FieldValue {
        func fail(_ message: String) -> SamplingError { .invalidArgument(field: row.name, message: message) }
        switch row.kind {
        case .points(let maxCount):
            return .points(try points(v, field: row.name, shape: shape, maxCount: maxCount))
        case .times:
            guard case .array(let items) = v else { return try scalar(v, row) }
            guard !items.isEmpty else { throw fail("must hold at least one time") }
            var times: [Double] = []
            for (i, item) in items.enumerated() {
                guard let d = item.doubleValue else {
                    throw .invalidArgument(field: "\(row.name)[\(i)]", message: "must be a number")
                }
                times.append(d)
            }
            return .numbers(times)
        default:
            return try scalar(v, row)
        }
    }

    /// A scalar JSON value as a field value of `row` (checked by the row afterwards).
    static func scalar(_ v: JSONValue, _ row: RequestField) throws(SamplingError) -> FieldValue {
        switch v {
        case .integer(let i): return .integer(i)
        case .number(let d): return .number(d)
        case .float(let f): return .number(Double(f))
        case .bool(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .null, .array, .object:
            let expected: String
            switch row.kind {
            case .integer: expected = "an integer"
            case .number, .times: expected = "a number"
            case .boolean: expected = "true or false"
            case .choice: expected = "a string"
            case .points: expected = "an array of points"
            }
            throw .invalidArgument(field: row.name, message: "must be \(expected), got \(v.typeName)")
        }
    }

    /// Points `[[...], ...]`, each nested to `shape` (or flat with D values), as
    /// row-major Float64 values.
    private static func points(_ v: JSONValue, field: String, shape: [Int], maxCount: Int) throws(SamplingError) -> [Double] {
        func fail(_ field: String, _ message: String) -> SamplingError { .invalidArgument(field: field, message: message) }
        guard case .array(let rows) = v else { throw fail(field, "must be an array of points, got \(v.typeName)") }
        guard !rows.isEmpty else { throw fail(field, "must hold at least one point") }
        guard rows.count <= maxCount else { throw fail(field, "holds \(rows.count) points; at most \(maxCount)") }
        let d = shape.reduce(1, *)
        var out: [Double] = []
        out.reserveCapacity(rows.count * d)
        for (i, row) in rows.enumerated() {
            let before = out.count
            let nested = flatten(row, shape: shape[...], into: &out)
            if !nested {
                out.removeSubrange(before...)
                guard case .array(let flat) = row, flat.count == d,
                      flat.allSatisfy({ $0.doubleValue != nil }) else {
                    throw fail("\(field)[\(i)]", "must be a point of shape \(shape) (numbers)")
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
