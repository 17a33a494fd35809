/// A network's time conditioning precomputed for a fixed list of times (a sampler's
/// time grid): built once per job, then shared read-only by every chunk, so a chunk's
/// step costs only the x-dependent layers.
public final class TimeTable: @unchecked Sendable {
    // @unchecked Sendable: `values` is written once, in init, and only read afterwards.

    /// The times, in table-row order.
    public let times: [Double]
    /// Floats per row.
    public let width: Int
    let values: UnsafeMutablePointer<Float>

    /// A table of `times.count` rows of `width` floats, all written by `fill` (called once).
    init(times: [Double], width: Int, fill: (UnsafeMutablePointer<Float>) -> Void) {
        self.times = times
        self.width = width
        values = .allocate(capacity: Swift.max(1, times.count * width))
        fill(values)  // initialises every value
    }

    deinit { values.deallocate() }

    /// Row `i` of the table.
    @inline(__always)
    func row(_ i: Int) -> UnsafePointer<Float> { UnsafePointer(values + i * width) }
}
