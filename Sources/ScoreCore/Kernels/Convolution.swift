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
