/// A network that evaluates images on their own (the conv U-Nets): a row's numbers
/// never depend on the other rows of a call, and the scratch grows with rows only up to
/// `batchRows`. Conformers give one image's forward and tangent (and may evaluate up to
/// `batchRows` images together); the batch loops live here.
protocol ImageNetwork: ScoreNetwork {
    /// All weights, one array (the offsets in the network's layers point into it).
    var storage: [Float] { get }
    /// One image's score; with `keep`, what `imageTangent` needs is left in the scratch
    /// (which then holds `jvpWorkspaceBytes`).
    func image(_ x: UnsafePointer<Float>, time: Double, weights: UnsafePointer<Float>,
               scratch: UnsafeMutableRawPointer, keep: Bool, into out: UnsafeMutablePointer<Float>)
    /// The scores of `count` ≤ `batchRows` images, each exactly as `image` gives it (the
    /// scratch is sized for up to `batchRows`).
    func images(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, count: Int, weights: UnsafePointer<Float>,
                scratch: UnsafeMutableRawPointer, keep: Bool, into out: UnsafeMutablePointer<Float>)
    /// The Jacobian of the last `image(…, keep: true)` applied to `v`.
    func imageTangent(_ v: UnsafePointer<Float>, time: Double, weights: UnsafePointer<Float>,
                      scratch: UnsafeMutableRawPointer, into jv: UnsafeMutablePointer<Float>)
}

extension ImageNetwork {
    /// Calls may hold any number of rows: an image's numbers never depend on the others.
    public var rowGroup: Int { 1 }
    public var supportsJVP: Bool { true }
    /// By default one image at a time.
    public var batchRows: Int { 1 }

    func images(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, count: Int, weights w: UnsafePointer<Float>,
                scratch: UnsafeMutableRawPointer, keep: Bool, into out: UnsafeMutablePointer<Float>) {
        let d = dimension
        for r in 0..<count {
            image(x + r * d, time: times[r], weights: w, scratch: scratch, keep: keep, into: out + r * d)
        }
    }

    public func score(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows: Int,
                      into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer) {
        let d = dimension
        storage.withUnsafeBufferPointer { w in
            var r = 0
            while r < rows {
                let count = Swift.min(batchRows, rows - r)
                images(x + r * d, times: times + r, count: count, weights: w.baseAddress!, scratch: scratch, keep: false,
                       into: out + r * d)
                r += count
            }
        }
    }

    public func jvp(_ x: UnsafePointer<Float>, times: UnsafePointer<Double>, rows: Int,
                    tangents: Int, v: UnsafePointer<Float>,
                    score out: UnsafeMutablePointer<Float>, jv: UnsafeMutablePointer<Float>,
                    scratch: UnsafeMutableRawPointer) {
        let d = dimension
        storage.withUnsafeBufferPointer { w in
            for r in 0..<rows {
                image(x + r * d, time: times[r], weights: w.baseAddress!, scratch: scratch, keep: true, into: out + r * d)
                for p in 0..<tangents {
                    let offset = (r * tangents + p) * d
                    imageTangent(v + offset, time: times[r], weights: w.baseAddress!, scratch: scratch, into: jv + offset)
                }
            }
        }
    }
}
