import ScoreCore

/// A sampling request: the fields of `POST /v1/models/{name}/sample` by name (absent
/// ones take their defaults). Typed accessors cover the fields every sampler shares;
/// a sampler's own fields are set by name: `options["order"] = 2`.
public struct SampleOptions: FieldBackedOptions {
    public var values: FieldValues

    public init(_ values: FieldValues = FieldValues()) { self.values = values }

    public var n: Int {
        get { values["n"].flatMap { $0.doubleValue }.map { Int($0) } ?? 1 }
        set { values["n"] = .integer(Int64(newValue)) }
    }
    public var offset: UInt64 {
        get { if case .integer(let i)? = values["offset"] { UInt64(clamping: i) } else { 0 } }
        set { values["offset"] = .integer(Int64(bitPattern: newValue)) }  // past 2^63: negative, refused
    }
    public var sampler: String {
        get { if case .string(let s)? = values["sampler"] { s } else { Samplers.defaultName } }
        set { values["sampler"] = .string(newValue) }
    }
    public var steps: Int? {
        get { values["steps"].flatMap { $0.doubleValue }.map { Int($0) } }
        set { values["steps"] = newValue.map { .integer(Int64($0)) } }
    }
    public var eps: Double? {
        get { values["eps"]?.doubleValue }
        set { values["eps"] = newValue.map { .number($0) } }
    }
    public var denoise: Bool? {
        get { if case .bool(let b)? = values["denoise"] { b } else { nil } }
        set { values["denoise"] = newValue.map { .bool($0) } }
    }
    /// Prior latents x(T) in model space, [count × D], decoded deterministically.
    public var latents: [Double]? {
        get { if case .points(let p)? = values["latents"] { p } else { nil } }
        set { values["latents"] = newValue.map { .points($0) } }
    }

    /// Largest `n` and `steps` the engine accepts (a server may set lower limits).
    public static let maxN = FieldLimits.engine.maxN
    public static let maxSteps = FieldLimits.engine.maxSteps
}
