/// The `network` section of config.json.
public enum NetworkSpec: Sendable, Equatable {
    /// Residual MLP; sizes are read from the tensors and checked against these if given.
    case mlp(hidden: Int?, blocks: Int?, embedDim: Int?)
    /// Analytic Gaussian mixture in model space (weights normalised on load).
    case gmm([GaussianMixture.Component])
    /// Exact score of a finite data set; `file` names the data file (data space),
    /// default `data.npy` or `data.csv` in the model directory.
    case empirical(file: String?)
    /// The PyTorch tutorial's conv U-Net (`ScoreNet`) for [C, H, W] images; the channel
    /// counts and E are read from the tensors and checked against these if given.
    case scorenet(channels: [Int]?, embedDim: Int?)
    /// diffusers' UNet2DModel, read from its own directory layout (never from config.json
    /// of this format), with what its output predicts.
    case unet2d(UNet2DConfig, prediction: Prediction?)
    /// score_sde's NCSN++ / DDPM++ (`models/ncsnpp.py`) with its `config.model` options,
    /// from a directory `Models/recipes/convert_score_sde.py` writes.
    case ncsnpp(NCSNppConfig)

    /// The `type` string of the format.
    public var typeName: String {
        switch self {
        case .mlp: "mlp"
        case .gmm: "gmm"
        case .empirical: "empirical"
        case .scorenet: "scorenet"
        case .unet2d: "unet2d"
        case .ncsnpp: "ncsnpp"
        }
    }
}
