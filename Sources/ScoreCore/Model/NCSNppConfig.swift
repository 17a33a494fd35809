import Foundation
import ScoreJSON

/// The `network` section of an `ncsnpp` model: score_sde's NCSN++ / DDPM++
/// (`models/ncsnpp.py`), with its `config.model` options under their own names (as
/// `Models/recipes/convert_score_sde.py` writes them) plus `centered` (`config.data`).
/// Every key is read; an unknown one, or an option value score_sde does not have, is
/// refused by name, and so are the combinations score_sde's own modules cannot run.
public struct NCSNppConfig: Sendable, Equatable {
    public enum ResBlock: String, Sendable { case ddpm, biggan }
    public enum Progressive: String, Sendable { case none, outputSkip = "output_skip", residual }
    public enum ProgressiveInput: String, Sendable { case none, inputSkip = "input_skip", residual }
    public enum Combine: String, Sendable { case sum, cat }
    public enum Embedding: String, Sendable { case positional, fourier }

    public let nf: Int
    public let chMult: [Int]
    public let numResBlocks: Int
    public let attnResolutions: [Int]
    public let resblockType: ResBlock
    public let fir: Bool
    public let firKernel: [Double]
    public let skipRescale: Bool
    public let progressive: Progressive
    public let progressiveInput: ProgressiveInput
    public let progressiveCombine: Combine
    public let embedding: Embedding
    public let scaleBySigma: Bool
    public let conditional: Bool
    public let resampWithConv: Bool
    /// `data.centered`: the network's input is in [−1, 1]; otherwise in [0, 1] and the
    /// network maps it to 2x − 1 itself.
    public let centered: Bool
    /// `config.model` σ range and count: score_sde's `sigmas` table, which scales the
    /// output when `scale_by_sigma` meets the positional embedding.
    public let sigmaMin: Double, sigmaMax: Double, numScales: Int

    /// Entry `i` of score_sde's `utils.get_sigmas`: exp(linspace(ln σ_max, ln σ_min,
    /// num_scales))[i].
    public func sigma(at i: Int) -> Double {
        let a = Foundation.log(sigmaMax), b = Foundation.log(sigmaMin), n = numScales
        return Foundation.exp(n == 1 ? a : (i == n - 1 ? b : a + Double(i) * (b - a) / Double(n - 1)))
    }

    /// The keys a config must have (sigma_min, sigma_max and num_scales default to
    /// score_sde's 0.01, 50 and 1000).
    static let required = ["nf", "ch_mult", "num_res_blocks", "attn_resolutions", "resblock_type", "fir", "fir_kernel",
                           "skip_rescale", "progressive", "progressive_input", "progressive_combine", "embedding_type",
                           "scale_by_sigma", "conditional", "resamp_with_conv", "nonlinearity", "centered"]

    /// Parses the `network` object (`file` names config.json in errors); `shape` is the
    /// data shape, [C, H, W] with H = W divisible by 2^(levels − 1).
    static func parse(_ object: JSONObject, file: String, shape: [Int]) throws(ModelLoadError) -> NCSNppConfig {
        var r = DiffusersConfigReader(object, file: file, prefix: "network.")
        _ = r.value("type")
        // The architecture is these options: none of them is guessed.
        for key in required where !r.has(key) {
            throw r.fail(key, "missing (an ncsnpp network states every option of score_sde's config.model it uses: \(required.joined(separator: ", ")))")
        }
        func choice<T: RawRepresentable>(_ key: String, _ d: T) throws(ModelLoadError) -> T where T.RawValue == String {
            let raw = try r.string(key, default: d.rawValue)
            guard let raw, let v = T(rawValue: raw) else {
                throw r.fail(key, "\(raw.map { "'\($0)'" } ?? "null") is not an option of score_sde's ncsnpp")
            }
            return v
        }
        func flag(_ key: String, _ d: Bool) throws(ModelLoadError) -> Bool { try r.bool(key, default: d) }
        let nf = try r.int("nf", default: 128, atLeast: 1)!
        guard let chMult = try r.ints("ch_mult", default: [1, 2, 2, 2]) else { throw r.fail("ch_mult", "expected an array of integers, got null") }
        guard chMult.count <= 16 else { throw r.fail("ch_mult", "\(chMult.count) levels: at most 16") }
        let blocks = try r.int("num_res_blocks", default: 4, atLeast: 1)!
        let attn = try r.value("attn_resolutions").map { value throws(ModelLoadError) -> [Int] in
            guard case .array(let items) = value else { throw r.fail("attn_resolutions", "expected an array of integers") }
            var out: [Int] = []
            for (i, item) in items.enumerated() {
                guard let n = try r.reader.integer(item, "network.attn_resolutions[\(i)]", atLeast: 1) else {
                    throw r.fail("attn_resolutions", "missing element")
                }
                out.append(n)
            }
            return out
        } ?? [16]
        let resblock: ResBlock = try choice("resblock_type", .biggan)
        let fir = try flag("fir", false)
        let taps = try r.value("fir_kernel").map { value throws(ModelLoadError) -> [Double] in
            guard case .array(let items) = value, items.count >= 1 else { throw r.fail("fir_kernel", "expected a non-empty array of numbers") }
            var out: [Double] = []
            for (i, item) in items.enumerated() {
                guard let v = try r.reader.number(item, "network.fir_kernel[\(i)]") else { throw r.fail("fir_kernel", "missing element") }
                out.append(v)
            }
            return out
        } ?? [1, 3, 3, 1]
        guard taps.reduce(0, +) != 0 else { throw r.fail("fir_kernel", "sums to 0: score_sde normalises it by its sum") }
        let skipRescale = try flag("skip_rescale", true)
        let progressive: Progressive = try choice("progressive", .none)
        let progressiveInput: ProgressiveInput = try choice("progressive_input", .none)
        let combine: Combine = try choice("progressive_combine", .sum)
        let embedding: Embedding = try choice("embedding_type", .fourier)
        let scaleBySigma = try flag("scale_by_sigma", false)
        let conditional = try flag("conditional", true)
        let resamp = try flag("resamp_with_conv", true)
        let act = try r.string("nonlinearity", default: "swish")
        try r.only("nonlinearity", act, ["swish"])
        let centered = try flag("centered", false)
        let sigmaMin = try r.double("sigma_min", default: 0.01), sigmaMax = try r.double("sigma_max", default: 50)
        guard let sigmaMin, let sigmaMax, sigmaMin > 0, sigmaMax > sigmaMin else {
            throw r.fail("sigma_max", "expected 0 < sigma_min < sigma_max")
        }
        let numScales = try r.int("num_scales", default: 1000, atLeast: 1)!
        guard numScales <= 1_000_000 else { throw r.fail("num_scales", "\(numScales): at most 1000000 (score_sde's configs use 1000 and 2000)") }
        try r.rejectUnknown("ncsnpp network")

        // What score_sde's own modules cannot run: layerspp.Upsample fails unless it has fir
        // and no conv (with a conv, upsample_conv_2d slices with a negative step, which
        // PyTorch refuses; without fir, F.interpolate gets 'nearest' as its scale factor).
        // ddpm blocks, output_skip and residual pyramids upsample with it; with one level
        // nothing is upsampled.
        let upsampler = " layerspp.Upsample fails in PyTorch unless it has fir and no conv, so no checkpoint has it"
        let upsamples = chMult.count > 1
        if upsamples && progressive == .residual {
            throw r.fail("progressive", "'residual': its pyramid upsampling is a layerspp.Upsample with a conv;" + upsampler)
        }
        if upsamples && progressive == .outputSkip && !fir {
            throw r.fail("progressive", "'output_skip' without fir: its pyramid upsampling is a layerspp.Upsample without fir;" + upsampler)
        }
        if upsamples && resblock == .ddpm && (resamp || !fir) {
            throw r.fail("resblock_type", "'ddpm' with \(resamp ? "resamp_with_conv" : "fir false"): its up path is a layerspp.Upsample \(resamp ? "with a conv" : "without fir");" + upsampler)
        }
        guard shape.count == 3 else {
            throw ModelLoadError(file: file, subject: "key 'data.shape'", "expected [channels, height, width] for network ncsnpp")
        }
        guard shape[1] == shape[2] else {
            throw ModelLoadError(file: file, subject: "key 'data.shape'", "\(shape[1]) × \(shape[2]): score_sde's ncsnpp takes square images (data.image_size)")
        }
        let levels = chMult.count - 1
        guard shape[1] % (1 << levels) == 0 else {
            throw ModelLoadError(file: file, subject: "key 'data.shape'", "image size \(shape[1]) is not divisible by 2^\(levels), as \(chMult.count) levels (ch_mult) need")
        }
        return NCSNppConfig(nf: nf, chMult: chMult, numResBlocks: blocks, attnResolutions: attn, resblockType: resblock, fir: fir,
                            firKernel: taps, skipRescale: skipRescale, progressive: progressive,
                            progressiveInput: progressiveInput, progressiveCombine: combine, embedding: embedding,
                            scaleBySigma: scaleBySigma, conditional: conditional, resampWithConv: resamp, centered: centered,
                            sigmaMin: sigmaMin, sigmaMax: sigmaMax, numScales: numScales)
    }
}
