import Foundation

/// The `data` section: point shape and the affine map between data space and the
/// network's model space, `x_m = (x − shift) / scale`.
public struct DataSpec: Sendable, Equatable {
    /// Shape of one point (`[D]` or `[C, H, W]`).
    public let shape: [Int]
    /// Per-dimension shift and scale (a scalar in config.json is broadcast).
    public let shift: [Double]
    public let scale: [Double]
    /// Number of integer levels of the raw data (enables dequantization), if any.
    public let levels: Int?

    /// D, the number of coordinates of one point.
    public var dimension: Int { shift.count }

    /// Σ_d log|scale_d|: log p_data(x) = log p_model(x_m) − this.
    public let logAbsScale: Double

    public init(shape: [Int], shift: [Double], scale: [Double], levels: Int? = nil) {
        precondition(shift.count == scale.count && shift.count == shape.reduce(1, *))
        self.shape = shape
        self.shift = shift
        self.scale = scale
        self.levels = levels
        self.logAbsScale = scale.reduce(0) { $0 + Foundation.log(Swift.abs($1)) }
    }

    /// Maps rows of data-space points to model space, in place.
    public func toModel(_ x: inout [Double]) {
        let d = dimension
        for i in x.indices { x[i] = (x[i] - shift[i % d]) / scale[i % d] }
    }

    /// Maps rows of model-space points to data space, in place.
    public func toData(_ x: inout [Double]) {
        let d = dimension
        for i in x.indices { x[i] = x[i] * scale[i % d] + shift[i % d] }
    }
}
