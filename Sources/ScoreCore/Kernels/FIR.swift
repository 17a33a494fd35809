/// The FIR resampling of NCSN++ / DDPM++ (score_sde's `up_or_down_sampling`, diffusers'
/// `upfirdn2d_native`): a channel-major plane is upsampled by inserting zeros, padded (or,
/// with negative pads, cropped), filtered by a 2-D kernel, then decimated. Kernels are
/// square and separable in practice (`fir_kernel` (1, 3, 3, 1)), but applied as given.
public enum FIR {
    /// Output side of `upfirdn` on a side of `size`.
    @inline(__always)
    public static func outputSize(_ size: Int, kernel k: Int, up: Int, down: Int, pad: (Int, Int)) -> Int {
        (size * up + pad.0 + pad.1 - k) / down + 1
    }

    /// The 2-D kernel of a 1-D `taps` list: outer(taps, taps) / Σ², times `gain` (in
    /// Float64, then rounded), as diffusers' `upsample_2d` (gain · factor²) and
    /// `downsample_2d` (gain) build it.
    public static func kernel(_ taps: [Double], gain: Double) -> [Float] {
        let total = taps.reduce(0, +)
        return taps.flatMap { a in taps.map { b in Float(a * b / (total * total) * gain) } }
    }

    /// `out[oy, ox] = Σ_{ky, kx} u[oy·down + ky − pad.0, ox·down + kx − pad.0] ·
    /// kernel[k−1−ky, k−1−kx]`, where u is x upsampled by `up` (zeros between pixels) and 0
    /// outside it: upfirdn2d of one `[h × w]` plane with a `[k × k]` kernel.
    public static func upfirdn(_ x: UnsafePointer<Float>, height h: Int, width w: Int, kernel: UnsafePointer<Float>,
                               size k: Int, up: Int, down: Int, pad: (Int, Int), into out: UnsafeMutablePointer<Float>) {
        let oh = outputSize(h, kernel: k, up: up, down: down, pad: pad)
        let ow = outputSize(w, kernel: k, up: up, down: down, pad: pad)
        for oy in 0..<oh {
            for ox in 0..<ow {
                var sum: Float = 0
                for ky in 0..<k {
                    let uy = oy * down + ky - pad.0
                    guard uy >= 0, uy < h * up, uy % up == 0 else { continue }
                    let row = x + (uy / up) * w, taps = kernel + (k - 1 - ky) * k
                    for kx in 0..<k {
                        let ux = ox * down + kx - pad.0
                        guard ux >= 0, ux < w * up, ux % up == 0 else { continue }
                        sum += row[ux / up] * taps[k - 1 - kx]
                    }
                }
                out[oy * ow + ox] = sum
            }
        }
    }
}
