import ArgumentParser
import Dispatch
import Foundation
import ScoreCore
import ScoreTraining

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a residual MLP score model by denoising (or sliced) score matching.",
        discussion: """
            Writes a model directory (config.json, model.safetensors with the EMA weights and
            the training settings in its metadata, loss.csv). The run is a pure function of
            its flags and data: the same command reproduces the same weights bit for bit.

            Examples:
              scoreserve train --data moons --sde vp --steps 20000 --output Models/moons-vp
              scoreserve train --data Models/data/digits.csv --shape 8,8 --levels 17 --dequantize \\
                  --shift 8 --scale 8 --sde vp --hidden 256 --steps 20000 --output Models/digits-vp
            """)

    @Option(help: "Toy set (\(ToyDataset.allCases.map(\.rawValue).joined(separator: ", "))) or a .csv/.npy file.")
    var data: String
    @Option(help: "Points drawn from a toy set.") var dataPoints = 100_000
    @Option(help: "Point shape for file data, e.g. 8,8 (default: flat).") var shape: String?
    @Option(help: "Data shift (data space → model space: (x − shift)/scale).") var shift: Double = 0
    @Option(help: "Data scale.") var scale: Double = 1
    @Option(help: "Integer levels of the data (enables dequantized likelihoods).") var levels: Int?
    @Flag(help: "Train on uniformly dequantized data x + u, u ~ U[0, 1) per value (needs --levels).") var dequantize = false
    @Option(help: "Map data to model space through logit(α + (1 − 2α)x/levels) before --shift/--scale, with this α (needs --levels).")
    var logitAlpha: Double?
    @Option(help: "SDE: vp, subvp, ve, ve_power.") var sde: String = "vp"
    @Option(help: "ve sigma_max (default 50; a few times the data's diameter).") var sigmaMax: Double?
    @Option(help: "Objective: dsm or ssm.") var objective: String = "dsm"
    @Option(help: "Loss weighting over t: sigma (σ_t², t uniform) or likelihood (g², t importance-sampled).")
    var weighting: String = "sigma"
    @Option(help: "Hidden width H.") var hidden = 128
    @Option(help: "Residual blocks L.") var blocks = 3
    @Option(help: "Time-embedding width E.") var embedDim = 64
    @Option(help: "Scale of the Gaussian Fourier frequencies.") var fourierScale: Double = 16
    @Option(help: "Optimisation steps.") var steps = 20_000
    @Option(help: "Minibatch size.") var batchSize = 512
    @Option(help: "Adam learning rate.") var lr: Double = 1e-3
    @Option(help: "Linear warm-up steps.") var warmup = 1_000
    @Option(help: "Gradient-norm clip (0: none).") var clip: Double = 1
    @Option(help: "EMA decay of the saved weights.") var ema: Double = 0.999
    @Option(help: "Seed of data, initialisation and minibatches.") var seed: UInt64 = 0
    @Option(help: "Points held out of training (kept in held-out.csv for evaluation).") var holdOut = 0
    @Option(help: "Model name (default: the output directory's name).") var name: String?
    @Option(help: "Model description.") var description: String?
    @Option(help: "Output model directory.") var output: String

    func run() throws {
        guard let kind = SDE.Kind(rawValue: sde), SDE.configKinds.contains(kind) else { throw ValidationError("--sde: expected vp, subvp, ve or ve_power") }
        guard let objectiveKind = TrainingObjective(rawValue: objective) else { throw ValidationError("--objective: dsm or ssm") }
        guard let weightingKind = TimeWeighting(rawValue: weighting) else {
            throw ValidationError("--weighting: expected \(TimeWeighting.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        guard scale != 0 else { throw ValidationError("--scale must not be 0") }
        var dataset: Dataset
        let dataSource: String
        if let toy = ToyDataset(rawValue: data) {
            dataset = Dataset.toy(toy, count: dataPoints, seed: seed)
            dataSource = "toy:\(toy.rawValue) points=\(dataPoints) seed=\(seed)"
        } else {
            do { dataset = try Dataset.load(path: data) } catch { throw ValidationError("--data: \(error)") }
            if let shape {
                let dims = shape.split(separator: ",").compactMap { Int($0) }
                guard dims.reduce(1, *) == dataset.dimension else {
                    throw ValidationError("--shape \(shape) does not hold \(dataset.dimension) values")
                }
                dataset = Dataset(points: dataset.points, shape: dims)
            }
            dataSource = "file:\(URL(fileURLWithPath: data).lastPathComponent)"
        }
        var heldOut: Dataset?
        if holdOut > 0 {
            let parts = dataset.split(heldOut: holdOut, seed: seed)
            dataset = parts.train
            heldOut = parts.test
        }
        let d = dataset.dimension
        var transform = DataTransform.affine
        if let logitAlpha {
            guard levels != nil else { throw ValidationError("--logit-alpha needs --levels") }
            guard logitAlpha > 0, logitAlpha < 0.5 else { throw ValidationError("--logit-alpha must be in (0, 0.5)") }
            transform = .logit(alpha: logitAlpha)
        }
        let spec = DataSpec(shape: dataset.shape, shift: Array(repeating: shift, count: d),
                            scale: Array(repeating: scale, count: d), levels: levels, transform: transform)
        // Each drawn value, after a dequantization draw of up to one level, must map.
        for v in dataset.points {
            if let problem = spec.domainProblem(v, reach: dequantize ? 1 : 0) { throw ValidationError("--data: \(problem)") }
        }
        var model = dataset.points
        // A nonlinear map acts per draw, after dequantization (see Trainer.dataMap).
        if transform == .affine { spec.toModel(&model) }
        let sdeValue = SDE(kind: kind, sigmaMax: sigmaMax ?? 50)
        var options = TrainingOptions()
        options.objective = objectiveKind
        options.steps = steps
        options.batchSize = batchSize
        options.learningRate = lr
        options.warmup = warmup
        options.gradientClip = clip
        options.emaDecay = ema
        options.seed = seed
        options.timeWeighting = weightingKind
        if dequantize {
            guard levels != nil else { throw ValidationError("--dequantize needs --levels") }
            // One level: in data units before a nonlinear map, else in model units.
            options.dequantizeWidth = transform == .affine ? 1 / abs(scale) : 1
        }
        let layout = MLPLayout(dimension: d, hidden: hidden, blocks: blocks, embedDim: embedDim)
        let trainer = Trainer(layout: layout, sde: sdeValue, data: model, options: options,
                              initial: layout.initialParameters(seed: seed, fourierScale: fourierScale), dataMap: spec)
        let start = DispatchTime.now().uptimeNanoseconds
        let tty = isatty(2) != 0
        var lastDraw = start
        trainer.train(steps: steps) { step, loss in
            let now = DispatchTime.now().uptimeNanoseconds
            guard tty, now - lastDraw > 200_000_000 || step == steps else { return }
            lastDraw = now
            let rate = Double(step) / (Double(now - start) / 1e9)
            let filled = 30 * step / steps
            FileHandle.standardError.write(Data(String(format: "\rtraining [%@%@] %d/%d loss %.4f %.1f steps/s",
                                                       String(repeating: "#", count: filled), String(repeating: "-", count: 30 - filled),
                                                       step, steps, loss, rate).utf8))
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if tty { FileHandle.standardError.write(Data("\n".utf8)) }
        let finalLoss = trainer.lossLog.last?.loss ?? .nan
        let command = (["scoreserve"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let metadata: [String: String] = [
            "format": "pt", "trainer": "scoreserve train", "command": command, "data": dataSource,
            "objective": objectiveKind.rawValue, "steps": "\(steps)", "batch_size": "\(batchSize)",
            "learning_rate": "\(lr)", "warmup": "\(warmup)", "gradient_clip": "\(clip)", "ema": "\(ema)",
            "seed": "\(seed)", "fourier_scale": "\(fourierScale)", "final_loss": "\(finalLoss)",
            "train_points": "\(dataset.count)", "held_out_points": "\(heldOut?.count ?? 0)",
            "dequantize": "\(dequantize)", "transform": transform.name, "weighting": weightingKind.rawValue,
        ]
        let directoryName = URL(fileURLWithPath: output).standardizedFileURL.lastPathComponent
        try ModelDirectoryWriter.write(
            directory: output, name: name ?? directoryName,
            description: description ?? "\(data), \(kind.rawValue) SDE, residual MLP trained with \(objectiveKind.rawValue)",
            data: spec, sde: sdeValue, layout: layout, parameters: trainer.emaParameters,
            metadata: metadata, lossLog: trainer.lossLog)
        if let heldOut {
            var text = ""
            for r in 0..<heldOut.count {
                text += heldOut.points[(r * d)..<((r + 1) * d)].map { "\($0)" }.joined(separator: ",") + "\n"
            }
            try Data(text.utf8).write(to: URL(fileURLWithPath: output).appendingPathComponent("held-out.csv"))
        }
        print(String(format: "trained %d steps in %.1f s (%.1f steps/s), final loss %.5f → %@", steps, seconds,
                     Double(steps) / seconds, finalLoss, output))
    }
}
