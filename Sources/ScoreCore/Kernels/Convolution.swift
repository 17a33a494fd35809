/// 3×3 convolutions without padding, as GEMMs: `im2col` lays out the patches a
/// Conv2d multiplies, `col2im` scatters the columns a ConvTranspose2d produces.
/// Images are channel-major (`[C × H × W]`, PyTorch's NCHW for one image).
public enum Convolution {
    /// Output side of a Conv2d(3×3, stride, no padding).
    @inline(__always)
    public static func convolvedSize(_ size: Int, stride: Int) -> Int { (size - 3) / stride + 1 }

    /// Output side of a ConvTranspose2d(3×3, stride, no padding, output padding).
    @inline(__always)
    public static func transposedSize(_ size: Int, stride: Int, outputPadding: Int) -> Int {
        (size - 1) * stride + 3 + outputPadding
    }

    /// `cols[(c·9 + ky·3 + kx), (oy·ow + ox)] = x[c, oy·s + ky, ox·s + kx]`: a
    /// `[C·9 × oh·ow]` matrix, so that `W[OC × C·9] · cols` is the convolution.
    public static func im2col(_ x: UnsafePointer<Float>, channels: Int, height: Int, width: Int, stride s: Int,
                              into cols: UnsafeMutablePointer<Float>) {
        let oh = convolvedSize(height, stride: s), ow = convolvedSize(width, stride: s)
        var row = cols
        for c in 0..<channels {
            let plane = x + c * height * width
            for ky in 0..<3 {
                for kx in 0..<3 {
                    for oy in 0..<oh {
                        let src = plane + (oy * s + ky) * width + kx
                        let dst = row + oy * ow
                        if s == 1 {
                            for ox in 0..<ow { dst[ox] = src[ox] }
                        } else {
                            for ox in 0..<ow { dst[ox] = src[ox * s] }
                        }
                    }
                    row += oh * ow
                }
            }
        }
    }

    /// The transposed convolution's scatter: `out` (`[C × oh × ow]`, overwritten) gets
    /// `out[c, iy·s + ky, ix·s + kx] += cols[(c·9 + ky·3 + kx), (iy·iw + ix)]` for every
    /// input position, where `cols = Wᵀ · x` (`[C·9 × ih·iw]`). Positions no kernel tap
    /// reaches (the output padding) stay 0.
    public static func col2im(_ cols: UnsafePointer<Float>, channels: Int, inputHeight ih: Int, inputWidth iw: Int,
                              stride s: Int, outputHeight oh: Int, outputWidth ow: Int,
                              into out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: channels * oh * ow)
        var row = cols
        for c in 0..<channels {
            let plane = out + c * oh * ow
            for ky in 0..<3 {
                for kx in 0..<3 {
                    for iy in 0..<ih {
                        let dst = plane + (iy * s + ky) * ow + kx
                        let src = row + iy * iw
                        for ix in 0..<iw { dst[ix * s] += src[ix] }
                    }
                    row += ih * iw
                }
            }
        }
    }
}

extension Convolution {
    /// Padding of a 3×3 convolution: rows/columns of zeros before (top, left) and after
    /// (bottom, right) the image. PyTorch's `padding=1` is (1, 1); diffusers'
    /// `Downsample2D(padding=0)` pads (0, 1) before its stride-2 convolution.
    public struct Padding: Sendable, Equatable {
        public let before: Int, after: Int
        public init(before: Int, after: Int) {
            self.before = before
            self.after = after
        }
        public static let same = Padding(before: 1, after: 1)
    }

    /// Output side of a 3×3 convolution with `padding` and `stride`.
    @inline(__always)
    public static func convolvedSize(_ size: Int, stride: Int, padding p: Padding) -> Int {
        (size + p.before + p.after - 3) / stride + 1
    }

    /// `im2col` with zero padding, for the output rows `rows` (all by default):
    /// `cols[(c·9 + ky·3 + kx), ((oy − rows.lowerBound)·ow + ox)] =
    /// x[c, oy·s + ky − before, ox·s + kx − before]`, 0 outside the image.
    public static func im2col(_ x: UnsafePointer<Float>, channels: Int, height: Int, width: Int, stride s: Int,
                              padding p: Padding, rows: Range<Int>? = nil, into cols: UnsafeMutablePointer<Float>) {
        let ow = convolvedSize(width, stride: s, padding: p)
        let outputRows = rows ?? 0..<convolvedSize(height, stride: s, padding: p)
        let oh = outputRows.count
        var row = cols
        for c in 0..<channels {
            let plane = x + c * height * width
            for ky in 0..<3 {
                for kx in 0..<3 {
                    // Output columns whose input column ox·s + kx − before is inside the image.
                    let shift = kx - p.before
                    let first = shift >= 0 ? 0 : (-shift + s - 1) / s
                    let span = width - 1 - shift
                    let last = span < 0 ? 0 : Swift.min(ow, span / s + 1)
                    for oy in outputRows {
                        let dst = row + (oy - outputRows.lowerBound) * ow
                        let iy = oy * s + ky - p.before
                        guard iy >= 0 && iy < height && first < last else {
                            dst.update(repeating: 0, count: ow)
                            continue
                        }
                        let src = plane + iy * width + shift
                        for ox in 0..<first { dst[ox] = 0 }
                        if s == 1 {
                            (dst + first).update(from: src + first, count: last - first)
                        } else {
                            for ox in first..<last { dst[ox] = src[ox * s] }
                        }
                        for ox in last..<ow { dst[ox] = 0 }
                    }
                    row += oh * ow
                }
            }
        }
    }

    /// Nearest-neighbour ×2 upsampling of `[C × h × w]` into `[C × 2h × 2w]`.
    public static func upsampleNearest2(_ x: UnsafePointer<Float>, channels: Int, height h: Int, width w: Int,
                                        into out: UnsafeMutablePointer<Float>) {
        for c in 0..<channels {
            let src = x + c * h * w, dst = out + c * 4 * h * w
            for y in 0..<h {
                let line = dst + 2 * y * 2 * w, from = src + y * w
                for xx in 0..<w {
                    line[2 * xx] = from[xx]
                    line[2 * xx + 1] = from[xx]
                }
                (line + 2 * w).update(from: line, count: 2 * w)
            }
        }
    }
}
