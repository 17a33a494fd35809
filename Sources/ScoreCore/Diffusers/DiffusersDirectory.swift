import Foundation
import ScoreJSON

/// A model directory as diffusers writes it, served without a file added:
///
/// - a model folder (`UNet2DModel.save_pretrained` plus `scheduler.save_pretrained` into
///   the same folder): `config.json` with `_class_name` UNet2DModel,
///   `diffusion_pytorch_model.safetensors`, `scheduler_config.json`;
/// - a pipeline folder (`DDPMPipeline.save_pretrained`): `model_index.json`, `unet/`
///   and `scheduler/`.
///
/// Samples are 8-bit images in data space (pixel values 0…255, `levels` 256): model
/// space x/127.5 − 1 for the DDPM schedulers' models, x/255 for `ScoreSdeVeScheduler`'s
/// (as `ScoreSdeVePipeline` produces images in [0, 1]). An optional `scoreserve.json` beside them may set
/// `name`, `description` and `data` (`shift`, `scale`, `levels`) as config.json would.
enum DiffusersDirectory {
    static let weightsName = "diffusion_pytorch_model.safetensors"
    static let sidecarName = "scoreserve.json"

    /// The ModelConfig of `directory` when it holds a diffusers model; nil otherwise.
    /// `configBytes` is its config.json, when it has one.
    static func config(directory: String, configBytes: [UInt8]?, defaultName: String) throws(ModelLoadError) -> ModelConfig? {
        let dir = URL(fileURLWithPath: directory)
        func path(_ parts: String...) -> String { parts.reduce(dir) { $0.appendingPathComponent($1) }.path }
        let index = path("model_index.json")
        let unetFolder: String, schedulerFile: String, prefix: String, unetObject: JSONObject
        if FileManager.default.fileExists(atPath: index) {
            try checkPipeline(try DiffusersJSON.object(path: index), file: index)
            (unetFolder, schedulerFile, prefix) = (path("unet"), path("scheduler", "scheduler_config.json"), "unet/")
            unetObject = try DiffusersJSON.object(path: path("unet", "config.json"))
        } else {
            // A config.json with diffusers' `_class_name`; anything else is this format's
            // (whose parser reports its JSON errors).
            guard let configBytes, case .object(let o)? = try? JSONValue.parse(DiffusersJSON.nonFiniteAsNull(configBytes)),
                  o["_class_name"] != nil else { return nil }
            (unetFolder, schedulerFile, prefix, unetObject) = (directory, path("scheduler_config.json"), "", o)
        }
        let unetConfigPath = URL(fileURLWithPath: unetFolder).appendingPathComponent("config.json").path
        let unet = try UNet2DConfig.parse(unetObject, file: unetConfigPath)
        guard FileManager.default.fileExists(atPath: schedulerFile) else {
            throw ModelLoadError(file: schedulerFile, "missing: a diffusers model needs its scheduler config for the noise schedule (`scheduler.save_pretrained(DIR)` writes it)")
        }
        let scheduler = try SchedulerConfig.parse(try DiffusersJSON.object(path: schedulerFile), file: schedulerFile)
        let ve = if case .ve = scheduler.noise { true } else { false }
        if unet.fourier && !ve {
            throw ModelLoadError(file: unetConfigPath, subject: "time_embedding_type",
                                 "'fourier' takes log σ as its input: it needs ScoreSdeVeScheduler, not \(scheduler.className) (\(schedulerFile))")
        }
        let weights = URL(fileURLWithPath: unetFolder).appendingPathComponent(weightsName).path
        if !FileManager.default.fileExists(atPath: weights) {
            let other = ["diffusion_pytorch_model.safetensors.index.json", "diffusion_pytorch_model.bin"]
                .first { FileManager.default.fileExists(atPath: URL(fileURLWithPath: unetFolder).appendingPathComponent($0).path) }
            throw ModelLoadError(file: weights, "missing" + (other.map {
                " (found \($0): ScoreServe reads single-file safetensors; `UNet2DModel.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True, max_shard_size=\"10GB\")` writes one)"
            } ?? ""))
        }

        let shape = [unet.inChannels, unet.height, unet.width]
        let d = shape.reduce(1, *)
        var name = defaultName
        var description = "diffusers UNet2DModel (block_out_channels \(unet.blockOutChannels), \(unet.height)×\(unet.width)×\(unet.inChannels)), \(scheduler.summary)"
        // ScoreSdeVePipeline's images are in [0, 1], DDPMPipeline's in [−1, 1].
        var data = DataSpec(shape: shape, shift: Array(repeating: ve ? 0 : 127.5, count: d),
                            scale: Array(repeating: ve ? 255 : 127.5, count: d), levels: 256)
        let sidecar = path(sidecarName)
        if FileManager.default.fileExists(atPath: sidecar) {
            let o = try DiffusersJSON.object(path: sidecar)
            let r = ConfigReader(file: sidecar)
            name = try r.string(o["name"], "name") ?? name
            description = try r.string(o["description"], "description") ?? description
            if let mapping = try r.object(o["data"], "data") {
                data = DataSpec(shape: shape,
                                shift: try r.scalarOrVector(mapping["shift"], "data.shift", count: d) ?? data.shift,
                                scale: try r.scalarOrVector(mapping["scale"], "data.scale", count: d, nonzero: true) ?? data.scale,
                                levels: try r.integer(mapping["levels"], "data.levels", atLeast: 2) ?? data.levels)
            }
        }
        guard ModelConfig.isValidName(name) else {
            throw ModelLoadError(file: FileManager.default.fileExists(atPath: sidecar) ? sidecar : directory, subject: "name",
                                 "'\(name)' is not a valid model name (letters, digits, '-', '_', '.'; not starting with '.')")
        }
        return ModelConfig(name: name, description: description, data: data, sde: scheduler.sde,
                           network: .unet2d(unet, prediction: scheduler.prediction), weights: prefix + weightsName)
    }

    /// model_index.json must name a UNet2DModel `unet` and a `scheduler`, and nothing else
    /// a DDPM pipeline would not run (a VAE or a text encoder changes what is generated).
    static func checkPipeline(_ o: JSONObject, file: String) throws(ModelLoadError) {
        let r = ConfigReader(file: file)
        for (key, value) in o.pairs where !key.hasPrefix("_") {
            guard case .array(let parts) = value, parts.count == 2 else {
                throw r.fail(key, "expected [library, class]")
            }
            let className: String? = if case .string(let s) = parts[1] { s } else { nil }
            switch key {
            case "unet":
                guard className == "UNet2DModel" else {
                    throw r.fail(key, "\(className.map { "'\($0)'" } ?? "null") is not supported (ScoreServe serves UNet2DModel)")
                }
            case "scheduler":
                guard className != nil else { throw r.fail(key, "missing the scheduler class") }
            default:
                if parts[0] != .null || parts[1] != .null {
                    throw r.fail(key, "pipeline component '\(key)' (\(className ?? "?")) is not supported: ScoreServe serves unconditional pipelines of a unet and a scheduler")
                }
            }
        }
        guard o["unet"] != nil else { throw r.fail("unet", "missing: the pipeline has no UNet2DModel") }
        guard o["scheduler"] != nil else { throw r.fail("scheduler", "missing: the pipeline has no scheduler") }
    }
}
