import Foundation

/// The `data` section: point shape and the map between data space and the network's
/// model space: `x_m = (x − shift) / scale` (affine), or for integer data with the
/// `logit` transform `x_m = (logit(α + (1 − 2α)·x/levels) − shift) / scale`.
public struct DataSpec: Sendable, Equatable {
    /// Shape of one point (`[D]` or `[C, H, W]`).
    public let shape: [Int]
    /// Per-dimension shift and scale (a scalar in config.json is broadcast).
    public let shift: [Double]
    public let scale: [Double]
    /// Number of integer levels of the raw data (enables dequantization), if any.
    public let levels: Int?
    /// The map applied before shift and scale.
    public let transform: DataTransform

    /// D, the number of coordinates of one point.
    public var dimension: Int { shift.count }

    /// Σ_d log|scale_d|: the affine part's share of log|det ∂x_m/∂x| (with a minus).
    public let logAbsScale: Double

    public init(shape: [Int], shift: [Double], scale: [Double], levels: Int? = nil, transform: DataTransform = .affine) {
        precondition(shift.count == scale.count && shift.count == shape.reduce(1, *))
        if case .logit = transform { precondition(levels != nil, "the logit transform needs levels") }
        self.shape = shape
        self.shift = shift
        self.scale = scale
        self.levels = levels
        self.transform = transform
        self.logAbsScale = scale.reduce(0) { $0 + Foundation.log(Swift.abs($1)) }
    }

    /// Coordinate `j` of a data-space point in model space.
    @inline(__always)
    public func toModel(_ x: Double, _ j: Int) -> Double {
        switch transform {
        case .affine:
            return (x - shift[j]) / scale[j]
        case .logit(let alpha):
            let y = logitArgument(x, alpha)
            return (Foundation.log(y) - Foundation.log1p(-y) - shift[j]) / scale[j]
        }
    }

    /// Coordinate `j` of a model-space point in data space.
    @inline(__always)
    public func toData(_ m: Double, _ j: Int) -> Double {
        switch transform {
        case .affine:
            return m * scale[j] + shift[j]
        case .logit(let alpha):
            // Past |logit| = 30 (y within 1e-13 of 0 or 1) a point is held at ±30, so it
            // stays inside the domain and maps back to a finite model value.
            let v = Swift.min(Swift.max(m * scale[j] + shift[j], -30), 30)
            let y = 1 / (1 + Foundation.exp(-v))
            return (y - alpha) * Double(levels!) / (1 - 2 * alpha)
        }
    }

    /// Maps rows of data-space points to model space, in place.
    public func toModel(_ x: inout [Double]) {
        let d = dimension
        for i in x.indices { x[i] = toModel(x[i], i % d) }
    }

    /// Maps rows of model-space points to data space, in place.
    public func toData(_ x: inout [Double]) {
        let d = dimension
        for i in x.indices { x[i] = toData(x[i], i % d) }
    }

    /// log|det ∂x_m/∂x| at the data-space point `x` (D values):
    /// log p_data(x) = log p_model(x_m) + this.
    public func logAbsJacobian(_ x: UnsafePointer<Double>) -> Double {
        switch transform {
        case .affine:
            return -logAbsScale
        case .logit(let alpha):
            // d logit(y)/dy = 1/(y(1 − y)), dy/dx = (1 − 2α)/levels.
            var sum = Double(dimension) * Foundation.log((1 - 2 * alpha) / Double(levels!)) - logAbsScale
            for j in 0..<dimension {
                let y = logitArgument(x[j], alpha)
                sum -= Foundation.log(y) + Foundation.log1p(-y)
            }
            return sum
        }
    }

    /// The open interval of data values the transform maps to finite model values, or nil
    /// when every finite value is in its domain.
    public var domain: ClosedRange<Double>? {
        guard case .logit(let alpha) = transform else { return nil }
        let (lo, hi) = logitBounds(alpha)
        return lo.nextUp...hi.nextDown
    }

    /// y = α + (1 − 2α)x/levels, the logit's argument.
    @inline(__always)
    private func logitArgument(_ x: Double, _ alpha: Double) -> Double {
        alpha + (1 - 2 * alpha) * x / Double(levels!)
    }

    /// The data values where y = α + (1 − 2α)x/levels is 0 and 1 (excluded from the domain).
    private func logitBounds(_ alpha: Double) -> (Double, Double) {
        let levels = Double(levels!)
        return (-alpha * levels / (1 - 2 * alpha), (1 - alpha) * levels / (1 - 2 * alpha))
    }

    /// Why data value `x`, or `x + reach` (how far a dequantization draw may add), cannot be
    /// mapped to model space; nil when both can.
    public func domainProblem(_ x: Double, reach: Double = 0) -> String? {
        guard case .logit(let alpha) = transform, let domain else { return nil }
        // The test toModel's own arithmetic passes (y strictly inside (0, 1)).
        func maps(_ v: Double) -> Bool {
            let y = logitArgument(v, alpha)
            return y > 0 && y < 1
        }
        guard let bad = !maps(x) ? x : reach > 0 && !maps(x + reach) ? x + reach : nil else { return nil }
        return "\(bad) is outside the model's logit data range (\(domain.lowerBound.nextDown), \(domain.upperBound.nextUp)) (data.levels \(levels!))"
    }
}

/// The map of the data section applied before shift and scale.
public enum DataTransform: Sendable, Equatable {
    /// The format's names (`data.transform`).
    public enum Kind: String, Sendable, CaseIterable { case affine, logit }

    /// None: model space is an affine image of data space.
    case affine
    /// For integer data in [0, levels): y = α + (1 − 2α)·x/levels, then logit(y) (Dinh
    /// et al. 2017, RealNVP). The data's bounds go to ±logit(α)-far tails, so a
    /// dequantized pixel that sits at its bound (a saturated 0 or levels − 1) has a
    /// smooth density in model space instead of a wall, and samples lie in the data range.
    case logit(alpha: Double)

    public var kind: Kind {
        switch self {
        case .affine: .affine
        case .logit: .logit
        }
    }

    /// The format's name.
    public var name: String { kind.rawValue }
}
