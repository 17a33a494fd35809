/// The operations the engine offers: the API's POST routes and the CLI's commands.
public enum Operation: String, Sendable, CaseIterable {
    case sample, likelihood, encode, score
}

/// One request field: name, JSON type and range, default, description, and where it
/// applies. Validation (the API's JSON reader and the engine), the CLI's flags and the
/// OpenAPI document all read these rows (`RequestFields.table`).
public struct RequestField: Sendable {
    /// The JSON type of a value and the values allowed.
    public enum Kind: Sendable, Equatable {
        case integer(ClosedRange<Int64>)
        case number(NumberRange)
        case boolean
        case choice([String])
        /// Points nested to the model's data shape, at most this many.
        case points(maxCount: Int)
        /// A number for every point, or an array with one number per point.
        case times(NumberRange)
    }

    public let name: String
    public let kind: Kind
    /// The value an absent field takes; nil when it depends on the model or on other
    /// fields (`description` says how).
    public let defaultValue: FieldValue?
    public let description: String
    public let operations: Set<Operation>
    public let required: Bool
    /// On `sample`: the field applies only to the samplers that list it.
    public let samplerSpecific: Bool
    /// The CLI's flag when it is not the name in kebab-case.
    public let flag: String?

    public init(_ name: String, _ kind: Kind, default defaultValue: FieldValue? = nil,
                operations: Set<Operation>, required: Bool = false, samplerSpecific: Bool = false,
                flag: String? = nil, _ description: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.description = description
        self.operations = operations
        self.required = required
        self.samplerSpecific = samplerSpecific
        self.flag = flag
    }

    /// A sampler's own field (`sample` only, sampler-specific).
    public static func sampler(_ name: String, _ kind: Kind, default defaultValue: FieldValue? = nil,
                               _ description: String) -> RequestField {
        RequestField(name, kind, default: defaultValue, operations: [.sample], samplerSpecific: true, description)
    }

    /// The CLI flag: `--corrector-steps` for `corrector_steps`.
    public var flagName: String { flag ?? name.replacingOccurrences(of: "_", with: "-") }

    /// `value` checked against the row's type and range (an integral number becomes an
    /// integer for an integer field, an integer a number for a number field).
    public func check(_ value: FieldValue) throws(SamplingError) -> FieldValue {
        func fail(_ message: String) -> SamplingError { .invalidArgument(field: name, message: message) }
        switch kind {
        case .integer(let range):
            let i: Int64
            switch value {
            case .integer(let v): i = v
            case .number(let d) where d.rounded() == d && abs(d) <= 9_007_199_254_740_992:
                // JSON Schema's "integer" includes 2.0; beyond 2^53 a double is not exact.
                i = Int64(d)
            case .number: throw fail("must be an integer, got a fraction")
            default: throw fail("must be an integer, got \(value.typeName)")
            }
            guard range.contains(i) else {
                throw fail("must be between \(range.lowerBound) and \(range.upperBound), got \(i)")
            }
            return .integer(i)
        case .number(let range):
            guard let d = value.doubleValue else { throw fail("must be a number, got \(value.typeName)") }
            guard range.contains(d) else { throw fail("must be \(range), got \(d)") }
            return .number(d)
        case .boolean:
            guard case .bool = value else { throw fail("must be true or false, got \(value.typeName)") }
            return value
        case .choice(let allowed):
            guard case .string(let s) = value else { throw fail("must be a string, got \(value.typeName)") }
            guard allowed.contains(s) else {
                throw fail("must be one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(s)\"")
            }
            return value
        case .points:
            // The count limit is checked by the readers, which know the point size.
            guard case .points(let p) = value else { throw fail("must be an array of points, got \(value.typeName)") }
            guard !p.isEmpty else { throw fail("must hold at least one point") }
            return value
        case .times(let range):
            let times: [Double]
            switch value {
            case .numbers(let t): times = t
            case .integer, .number: times = [value.doubleValue!]
            default: throw fail("must be a number or an array of numbers, got \(value.typeName)")
            }
            if let bad = times.first(where: { !range.contains($0) }) { throw fail("times must be \(range), got \(bad)") }
            return value
        }
    }
}

/// An interval of finite numbers, each end open or closed.
public struct NumberRange: Sendable, Equatable, CustomStringConvertible {
    public let lower: Double?
    public let lowerOpen: Bool
    public let upper: Double?
    public let upperOpen: Bool

    public init(lower: Double? = nil, lowerOpen: Bool = false, upper: Double? = nil, upperOpen: Bool = false) {
        self.lower = lower
        self.lowerOpen = lowerOpen
        self.upper = upper
        self.upperOpen = upperOpen
    }

    /// (a, b): both ends open.
    public static func open(_ a: Double, _ b: Double) -> NumberRange {
        NumberRange(lower: a, lowerOpen: true, upper: b, upperOpen: true)
    }

    /// (a, b]: open below, closed above.
    public static func openClosed(_ a: Double, _ b: Double) -> NumberRange {
        NumberRange(lower: a, lowerOpen: true, upper: b, upperOpen: false)
    }

    public func contains(_ x: Double) -> Bool {
        guard x.isFinite else { return false }
        if let lower, lowerOpen ? !(x > lower) : !(x >= lower) { return false }
        if let upper, upperOpen ? !(x < upper) : !(x <= upper) { return false }
        return true
    }

    public var description: String {
        let lo = lower.map { Self.text($0) } ?? "-∞", hi = upper.map { Self.text($0) } ?? "∞"
        return "in \(lowerOpen || lower == nil ? "(" : "[")\(lo), \(hi)\(upperOpen || upper == nil ? ")" : "]")"
    }

    private static func text(_ x: Double) -> String {
        x.rounded() == x && abs(x) < 1e15 ? String(Int64(x)) : "\(x)"
    }
}
