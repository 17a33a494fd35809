import ScoreCore

/// Requests whose fields are kept by name (`FieldValues`), as the request-field table
/// declares them.
public protocol FieldBackedOptions: Sendable {
    var values: FieldValues { get set }
    init(_ values: FieldValues)
}

extension FieldBackedOptions {
    /// A field by name.
    public subscript(field: String) -> FieldValue? {
        get { values[field] }
        set { values[field] = newValue }
    }

    /// `seed`; nil: a random seed, echoed by the answer.
    public var seed: UInt64? {
        get { if case .integer(let i)? = values["seed"] { UInt64(clamping: i) } else { nil } }
        // Past 2^63 − 1 the bit pattern is negative: out of the field's range, refused.
        set { values["seed"] = newValue.map { .integer(Int64(bitPattern: $0)) } }
    }
}

/// Requests of data-space points `x`.
public protocol PointOptions: FieldBackedOptions {}

extension PointOptions {
    /// Data-space points `x`, [count × D].
    public var x: [Double] {
        get { if case .points(let p)? = values["x"] { p } else { [] } }
        set { values["x"] = .points(newValue) }
    }
}

/// A likelihood request (`POST /v1/models/{name}/likelihood`).
public struct LikelihoodOptions: PointOptions {
    public var values: FieldValues
    public init(_ values: FieldValues = FieldValues()) { self.values = values }
}

/// An encoding request: data-space points to prior latents along the probability-flow ODE.
public struct EncodeOptions: PointOptions {
    public var values: FieldValues
    public init(_ values: FieldValues = FieldValues()) { self.values = values }
}

/// A score request: data-space points and one time per point (`t`: one number for all
/// of them, or one per point).
public struct ScoreOptions: PointOptions {
    public var values: FieldValues
    public init(_ values: FieldValues = FieldValues()) { self.values = values }
}

extension FieldValues {
    /// Fails on the first field that `operation`'s table does not have.
    func rejectUnknown(_ operation: Operation) throws(SamplingError) {
        if let name = names.first(where: { !RequestFields.has($0, operation) }) {
            throw .invalidArgument(field: name, message: "unknown field")
        }
    }

    /// The required points `x`, checked against the model.
    func points(_ operation: Operation, dimension d: Int) throws(SamplingError) -> [Double] {
        guard let x = try points(RequestFields.row("x", operation)) else {
            throw .invalidArgument(field: "x", message: "is required")
        }
        try check(x.count % d == 0, "x", "expected points of \(d) values each")
        try check(x.count / d <= SampleOptions.maxN, "x", "at most \(SampleOptions.maxN) points")
        if let i = x.firstIndex(where: { !$0.isFinite }) {
            throw .invalidArgument(field: "x", message: "point \(i / d) has a non-finite value")
        }
        return x
    }
}

/// A likelihood request resolved for a model.
public struct LikelihoodPlan: Sendable {
    public let model: ScoreModel
    /// Points in data space, [n × D].
    public let x: [Double]
    public let divergence: DivergenceOptions
    public let rtol: Double, atol: Double
    public let eps: Double
    /// The seed used (random when the request had none).
    public let seed: UInt64
    /// Uniform dequantization draws to average; 0 = none.
    public let dequantize: Int

    public var count: Int { x.count / model.data.dimension }

    /// Work units: points × nominal evaluations × (1 + tangents) × draws.
    public var cost: Int {
        let per = ODESolver.nominalAdaptiveEvaluations * (1 + divergence.tangents(dimension: model.data.dimension))
            * Swift.max(1, dequantize)
        return count.multipliedReportingOverflow(by: per).partialValue
    }

    public init(_ model: ScoreModel, _ options: LikelihoodOptions) throws(SamplingError) {
        let v = options.values, op = Operation.likelihood
        try v.rejectUnknown(op)
        self.model = model
        x = try v.points(op, dimension: model.data.dimension)
        try check(model.network.supportsJVP, "model", "the \(model.network.typeName) network has no likelihood")
        rtol = try v.double(RequestFields.row("rtol", op))!
        atol = try v.double(RequestFields.row("atol", op))!
        seed = try v.uint64(RequestFields.row("seed", op)) ?? UInt64.random(in: 0...UInt64(Int64.max))
        dequantize = try v.int(RequestFields.row("dequantize", op))!
        if dequantize > 0 {
            try check(model.data.levels != nil, "dequantize", "needs a model with data.levels")
        }
        // A dequantization draw adds up to one level.
        try checkDomain(x, model.data, reach: dequantize > 0 ? 1 : 0)
        eps = try v.double(RequestFields.row("eps", op)) ?? model.sde.likelihoodEps
        try checkEps(eps, model.sde)
        divergence = try DivergenceOptions(v, op, dimension: model.data.dimension)
    }
}

/// An encoding request resolved for a model.
public struct EncodePlan: Sendable {
    public let model: ScoreModel
    public let x: [Double]
    public let rtol: Double, atol: Double
    public let eps: Double

    public var count: Int { x.count / model.data.dimension }
    /// Work units: points × nominal evaluations.
    public var cost: Int { count * ODESolver.nominalAdaptiveEvaluations }

    public init(_ model: ScoreModel, _ options: EncodeOptions) throws(SamplingError) {
        let v = options.values, op = Operation.encode
        try v.rejectUnknown(op)
        self.model = model
        x = try v.points(op, dimension: model.data.dimension)
        try checkDomain(x, model.data)
        rtol = try v.double(RequestFields.row("rtol", op))!
        atol = try v.double(RequestFields.row("atol", op))!
        eps = try v.double(RequestFields.row("eps", op)) ?? model.sde.likelihoodEps
        try checkEps(eps, model.sde)
    }
}

/// A score request resolved for a model.
public struct ScorePlan: Sendable {
    public let model: ScoreModel
    public let x: [Double]
    /// One time per point.
    public let times: [Double]

    public var count: Int { x.count / model.data.dimension }
    /// Work units: one evaluation per point.
    public var cost: Int { count }

    public init(_ model: ScoreModel, _ options: ScoreOptions) throws(SamplingError) {
        let v = options.values, op = Operation.score
        try v.rejectUnknown(op)
        self.model = model
        x = try v.points(op, dimension: model.data.dimension)
        try checkDomain(x, model.data)
        let n = x.count / model.data.dimension
        let row = RequestFields.row("t", op)
        switch try v.value(row) {
        case nil: throw .invalidArgument(field: "t", message: "is required")
        case .numbers(let t)?:
            try check(t.count == n, "t", "has \(t.count) times for \(n) points")
            times = t
        case let single?: times = Array(repeating: single.doubleValue ?? .nan, count: n)
        }
        if let t = times.first(where: { !($0 > 0 && $0 <= model.sde.T) }) {
            throw .invalidArgument(field: "t", message: "times must be in (0, \(model.sde.T)], got \(t)")
        }
    }
}
