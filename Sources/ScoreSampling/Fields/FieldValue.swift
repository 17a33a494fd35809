/// A request field's value, as the API's JSON reader and the CLI's flag reader produce
/// it and the engine reads it (`FieldValues`).
public enum FieldValue: Sendable, Equatable {
    case integer(Int64)
    case number(Double)
    case bool(Bool)
    case string(String)
    /// Points flattened row-major (D values each, nested to the model's shape in JSON).
    case points([Double])
    /// One number per point (a single JSON number stands for all of them: `.number`).
    case numbers([Double])

    /// The JSON type name, for messages.
    public var typeName: String {
        switch self {
        case .integer: "integer"
        case .number: "number"
        case .bool: "boolean"
        case .string: "string"
        case .points: "points"
        case .numbers: "array of numbers"
        }
    }

    /// The value as a Double (integers included).
    public var doubleValue: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }
}

extension FieldValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral,
                      ExpressibleByStringLiteral {
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(stringLiteral value: String) { self = .string(value) }
}

/// The fields of one request by name; what is absent takes the row's default.
public struct FieldValues: Sendable, Equatable {
    public private(set) var storage: [String: FieldValue] = [:]

    public init(_ values: [String: FieldValue] = [:]) { storage = values }

    public subscript(name: String) -> FieldValue? {
        get { storage[name] }
        set { storage[name] = newValue }
    }

    /// Names of the fields given, sorted.
    public var names: [String] { storage.keys.sorted() }

    /// Whether `field` was given.
    public func has(_ field: RequestField) -> Bool { storage[field.name] != nil }

    /// The given value of `field`, checked against its row, or the row's default.
    public func value(_ field: RequestField) throws(SamplingError) -> FieldValue? {
        guard let v = storage[field.name] else { return field.defaultValue }
        return try field.check(v)
    }

    public func int(_ field: RequestField) throws(SamplingError) -> Int? {
        guard case .integer(let i)? = try value(field) else { return nil }
        return Int(i)
    }

    public func uint64(_ field: RequestField) throws(SamplingError) -> UInt64? {
        guard case .integer(let i)? = try value(field) else { return nil }
        return UInt64(i)  // rows with unsigned meaning have a non-negative range
    }

    public func double(_ field: RequestField) throws(SamplingError) -> Double? {
        try value(field)?.doubleValue
    }

    public func bool(_ field: RequestField) throws(SamplingError) -> Bool? {
        guard case .bool(let b)? = try value(field) else { return nil }
        return b
    }

    public func string(_ field: RequestField) throws(SamplingError) -> String? {
        guard case .string(let s)? = try value(field) else { return nil }
        return s
    }

    /// A `choice` field as the enum whose raw values its row lists.
    public func choice<T: RawRepresentable>(_ field: RequestField, _ type: T.Type) throws(SamplingError) -> T?
    where T.RawValue == String {
        try string(field).flatMap(T.init(rawValue:))
    }

    public func points(_ field: RequestField) throws(SamplingError) -> [Double]? {
        guard case .points(let p)? = try value(field) else { return nil }
        return p
    }
}
