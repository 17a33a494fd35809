import ScoreCore

extension ScoreAPI {
    /// Most samples an `image/png` answer draws (a grid of 1,024 28×28 images at 2× is
    /// about 1,800 × 1,800 pixels).
    static let maxGridImages = 1024
    /// Most pixel values (samples × values per image × 4 for the 2× scale) an `image/png`
    /// answer draws: 32 M, about 100 MB of RGB before compression.
    static let maxGridValues = 1 << 25

    /// A PNG grid of an image model's samples: ⌈√n⌉ per row, each pixel 2×2; data-space
    /// values 0…levels−1 (the model's raw pixel range) or, without levels, the samples'
    /// own range, mapped to 0…255.
    static func grid(_ samples: [Float], _ model: ScoreModel) -> [UInt8] {
        let n = samples.count / model.data.dimension
        let columns = Int(Double(n).squareRoot().rounded(.up))
        let range = model.data.levels.map { 0...Float($0 - 1) } ?? Plot.valueRange(samples)
        return Plot.grid(images: samples, shape: model.data.shape, columns: max(1, columns), scale: 2, range: range,
                         title: "\(model.name): \(n) samples")
    }
}
