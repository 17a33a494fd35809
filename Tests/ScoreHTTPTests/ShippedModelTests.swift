import Foundation
import Testing
import ScoreCore
import ScoreJSON
import ScoreSampling
import ScoreTraining

/// Every trained model in `Models/` against its card (README.md): the weights are the
/// ones the card fingerprints and `make models` retrains, the card's settings are the
/// files', its held-out log-likelihood is what the engine computes now, the known-density
/// models meet the quality bar, and every shipped model serves over HTTP.
@Suite("Shipped models match their cards", .serialized)
struct ShippedModelTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let models = root.appendingPathComponent("Models")
    /// The trained models the Training issue asks for.
    static let trained = ["moons-vp", "8gaussians-subvp", "checkerboard-ve", "swissroll-vp", "digits-vp"]

    @Test("card settings, fingerprint and command match the files", arguments: trained)
    func cardMatchesFiles(name: String) throws {
        let dir = Self.models.appendingPathComponent(name)
        let card = try ModelCard(directory: dir)
        let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent("model.safetensors")))
        let tensors = try SafeTensors(bytes: bytes)
        // Fingerprint: the tensor bytes in name order (the data section follows the header).
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        var sha = SHA256()
        for t in tensors.tensors.sorted(by: { $0.name < $1.name }) {
            sha.update(bytes[(8 + headerLength + t.offsets.lowerBound)..<(8 + headerLength + t.offsets.upperBound)])
        }
        #expect(sha.hexDigest() == card.fingerprint, "\(name): weights differ from the card's fingerprint")

        // The card's command is the one recorded in the weights (up to the output path)
        // and the one `make models` runs.
        let recorded = try #require(tensors.metadata["command"])
        #expect(ModelCard.withoutOutput(recorded) == ModelCard.withoutOutput(card.command))
        #expect(try ModelCard.makeModelsCommands(Self.root).contains(ModelCard.normalised(card.command)),
                "\(name): `make models` does not run the card's command")
        let m = tensors.metadata
        let settings = "objective \(m["objective"] ?? "?"), \(m["steps"] ?? "?") steps, batch \(m["batch_size"] ?? "?")"
        #expect(card.text.contains(settings), "\(name): card lacks '\(settings)'")

        // SDE and network as the card states them are the config's.
        guard case .object(let config) = try JSONValue.parse([UInt8](Data(contentsOf: dir.appendingPathComponent("config.json")))) else {
            Issue.record("\(name): config.json is not an object"); return
        }
        let sde = try JSONValue.parse(card.sde), network = try JSONValue.parse(card.network)
        #expect(sde == config["sde"])
        #expect(network == config["network"])

        let png = try [UInt8](Data(contentsOf: dir.appendingPathComponent("samples.png")))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
    }

    /// Per-point log-likelihoods do not depend on which other points share the request
    /// (the determinism guarantee), so the first points of the card's run are recomputed
    /// exactly; the tolerance only covers another machine's BLAS kernels.
    @Test("the card's held-out spot check is what the engine computes", arguments: trained)
    func heldOutSpotCheck(name: String) throws {
        let dir = Self.models.appendingPathComponent(name)
        let card = try ModelCard(directory: dir)
        let model = try ScoreModel.load(directory: dir.path)
        let d = model.data.dimension
        let held = try PointsFile.read(path: dir.appendingPathComponent("held-out.csv").path, dimension: d)
        let spot = try #require(card.spotCheck)
        #expect(held.count / d >= spot.points)
        var options = LikelihoodOptions()
        options.x = Array(held[0..<(spot.points * d)])
        options.seed = 0
        options["estimator"] = "exact"
        if model.data.levels != nil { options["dequantize"] = 4 }
        let result = try SamplingEngine(threads: 2).likelihoodBlocking(model, options)
        #expect(result.logLikelihood.allSatisfy { $0.isFinite })
        let mean = result.logLikelihood.reduce(0, +) / Double(spot.points)
        #expect(abs(mean - spot.mean) <= 1e-3 * max(1, abs(spot.mean)),
                "\(name): first \(spot.points) held-out points give \(mean), the card says \(spot.mean)")
    }

    /// For the 2-D models the whole held-out figure is cheap (5,000 points, a few seconds):
    /// the card's mean, printed by evaluate.sh to 4 decimals, is recomputed.
    @Test("the 2-D cards' full held-out log-likelihood is what the engine computes",
          arguments: ["moons-vp", "8gaussians-subvp", "checkerboard-ve", "swissroll-vp"])
    func heldOutFigure(name: String) throws {
        let dir = Self.models.appendingPathComponent(name)
        let card = try ModelCard(directory: dir)
        let stated = try #require(card.number(after: "held-out log-likelihood: ", before: " ±"))
        let model = try ScoreModel.load(directory: dir.path)
        var options = LikelihoodOptions()
        options.x = try PointsFile.read(path: dir.appendingPathComponent("held-out.csv").path, dimension: model.data.dimension)
        options.seed = 0
        options["estimator"] = "exact"
        let ll = try SamplingEngine(threads: 2).likelihoodBlocking(model, options).logLikelihood
        let mean = ll.reduce(0, +) / Double(ll.count)
        #expect(abs(mean - stated) <= 2e-4, "\(name): held-out mean \(mean), the card says \(stated)")
    }

    @Test("known-density models meet the quality bar", arguments: [("8gaussians-subvp", "8gaussians", 0.15),
                                                                   ("checkerboard-ve", "checkerboard", 0.25)])
    func qualityBar(name: String, kind: String, bar: Double) throws {
        let dir = Self.models.appendingPathComponent(name)
        let card = try ModelCard(directory: dir)
        // The card's full held-out gap to the true density.
        let gap = try #require(card.gapToTruth)
        #expect(gap <= bar, "\(name): \(gap) nats/point below the true density (bar \(bar))")
        // And on the spot-check points, the truth recomputed here from the generator.
        let toy = try #require(ToyDataset(rawValue: kind))
        let held = try PointsFile.read(path: dir.appendingPathComponent("held-out.csv").path, dimension: 2)
        let spot = try #require(card.spotCheck)
        let truth = (0..<spot.points).map { toy.logDensity(held[2 * $0], held[2 * $0 + 1]) ?? -.infinity }
        let spotGap = truth.reduce(0, +) / Double(spot.points) - spot.mean
        #expect(spotGap <= bar, "\(name): \(spotGap) nats/point below the truth on the spot points")
        #expect(spotGap > -0.5, "a model far above the true density means a wrong density or likelihood")
    }

    /// The digits model must beat a full-covariance Gaussian clearly (held-out bits/dim ≤
    /// 2.75), the card's Gaussian figure must be that Gaussian's (recomputed here in closed
    /// form from the data), every held-out point must have a finite log-likelihood, and ode
    /// and pc samples must stay in the data range (≤ 1% of values outside −1…17).
    @Test("digits-vp beats the full-covariance Gaussian and its samples stay in the data range")
    func digitsBeatGaussian() throws {
        let dir = Self.models.appendingPathComponent("digits-vp")
        let card = try ModelCard(directory: dir)
        func line(_ prefix: String) throws -> String {
            String(try #require(card.text.split(separator: "\n").first { $0.hasPrefix(prefix) }, "no '\(prefix)' line"))
        }
        let bitsPerDim = try #require(ModelCard.number(in: try line("held-out log-likelihood:"), after: "nats/point, ", before: " bits/dim"))
        let gaussian = try #require(ModelCard.number(in: try line("full-covariance Gaussian"), after: "nats/point, ", before: " bits/dim"))
        #expect(bitsPerDim <= 2.75, "held-out \(bitsPerDim) bits/dim")
        let train = try PointsFile.read(path: Self.models.appendingPathComponent("data/digits.csv").path, dimension: 64)
        let held = try PointsFile.read(path: dir.appendingPathComponent("held-out.csv").path, dimension: 64)
        let recomputed = Self.gaussianBaselineBitsPerDim(data: train, heldOut: held, dimension: 64)
        #expect(abs(recomputed - gaussian) < 1e-3, "the card's Gaussian says \(gaussian) bits/dim, recomputed \(recomputed)")
        #expect(card.text.contains("297 of 297 finite"))

        let model = try ScoreModel.load(directory: dir.path)
        for sampler in ["ode", "pc"] {
            var options = SampleOptions()
            options.n = 100
            options.seed = 1
            options.sampler = sampler
            let values = try SamplingEngine(threads: 2).sampleBlocking(model, options).samples
            let outside = values.filter { $0 < -1 || $0 > 17 }.count
            #expect(Double(outside) <= 0.01 * Double(values.count), "\(sampler): \(outside) of \(values.count) values outside −1…17")
            let stated = try #require(card.number(after: "\(sampler) samples (1000, seed 1): ", before: "% of values outside"))
            #expect(stated <= 1, "the card's \(sampler) samples: \(stated)% outside")
        }
    }

    /// Mean held-out E_u log N(x + u) of the Gaussian fitted to the dequantized training
    /// points (data less held-out, as a multiset), in bits/dim, in closed form: mean m + ½,
    /// covariance S + I/12, and E_u log N(x + u) = log N(x + ½) − tr(Σ⁻¹)/24.
    static func gaussianBaselineBitsPerDim(data: [Double], heldOut: [Double], dimension d: Int) -> Double {
        var remaining: [[Double]: Int] = [:]
        for r in stride(from: 0, to: heldOut.count, by: d) { remaining[Array(heldOut[r..<(r + d)]), default: 0] += 1 }
        var train: [[Double]] = []
        for r in stride(from: 0, to: data.count, by: d) {
            let row = Array(data[r..<(r + d)])
            if let k = remaining[row], k > 0 { remaining[row] = k - 1 } else { train.append(row) }
        }
        let n = Double(train.count)
        var mean = [Double](repeating: 0.5, count: d)
        for row in train { for j in 0..<d { mean[j] += row[j] / n } }
        var cov = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for row in train {
            for i in 0..<d { for j in 0...i { cov[i][j] += (row[i] + 0.5 - mean[i]) * (row[j] + 0.5 - mean[j]) / n } }
        }
        for i in 0..<d { cov[i][i] += 1.0 / 12 }
        // Cholesky, lower.
        var l = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for i in 0..<d {
            for j in 0...i {
                var s = cov[i][j]
                for k in 0..<j { s -= l[i][k] * l[j][k] }
                l[i][j] = i == j ? s.squareRoot() : s / l[j][j]
            }
        }
        func solve(_ b: [Double]) -> [Double] {
            var y = [Double](repeating: 0, count: d)
            for i in 0..<d {
                var s = b[i]
                for k in 0..<i { s -= l[i][k] * y[k] }
                y[i] = s / l[i][i]
            }
            return y
        }
        let logDet = 2 * (0..<d).reduce(0) { $0 + log(l[$1][$1]) }
        var traceInverse = 0.0
        for k in 0..<d { traceInverse += solve((0..<d).map { $0 == k ? 1 : 0 }).reduce(0) { $0 + $1 * $1 } }
        var total = 0.0
        for r in stride(from: 0, to: heldOut.count, by: d) {
            let z = solve((0..<d).map { heldOut[r + $0] + 0.5 - mean[$0] })
            total += -0.5 * (Double(d) * log(2 * Double.pi) + logDet + z.reduce(0) { $0 + $1 * $1 }) - traceInverse / 24
        }
        return -(total / Double(heldOut.count / d)) / (Double(d) * log(2.0))
    }

    /// gmm-demo has no weights and no held-out data: its card's figure is 4,000 samples
    /// (default sampler, seed 1) beside its exact density, as `Models/recipes/evaluate.sh`
    /// draws them; redrawn here, the picture must be the shipped one byte for byte.
    @Test("gmm-demo's card shows its samples beside its exact density, as evaluate.sh draws them")
    func gmmDemoPicture() throws {
        let dir = Self.models.appendingPathComponent("gmm-demo")
        let card = try String(contentsOf: dir.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(card.contains("](samples.png)") && card.contains("Models/recipes/evaluate.sh Models/gmm-demo"))
        let model = try ScoreModel.load(directory: dir.path)
        let logDensity = try #require(model.exactDataLogDensity)
        var options = SampleOptions()
        options.n = 4000
        options.seed = 1
        let samples = try SamplingEngine(threads: 2).sampleBlocking(model, options).samples
        let png = Plot.samplesBesideDensity(samples: samples) { x, y in logDensity([x, y]) }
        let shipped = try [UInt8](Data(contentsOf: dir.appendingPathComponent("samples.png")))
        #expect(png == shipped, "Models/gmm-demo/samples.png is not what evaluate.sh draws now: rerun it")
    }

    /// mnist-unet2d's card shows samples drawn by diffusers itself, which CI cannot rerun
    /// (no PyTorch): the card quotes `Models/recipes/sample_diffusers.py`'s output, whose
    /// last line is the SHA-256 of the PNG it wrote, so the shipped picture must hash to it.
    @Test("mnist-unet2d's diffusers picture is the file sample_diffusers.py wrote")
    func unet2dDiffusersPicture() throws {
        let dir = Self.models.appendingPathComponent("mnist-unet2d")
        let card = try String(contentsOf: dir.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(card.contains("python3 Models/recipes/sample_diffusers.py Models/mnist-unet2d"))
        #expect(card.contains("](samples-diffusers.png)"))
        let prefix = "wrote Models/mnist-unet2d/samples-diffusers.png (SHA-256 "
        let start = try #require(card.range(of: prefix), "the card quotes no sample_diffusers.py output")
        let stated = String(card[start.upperBound...].prefix(64))
        var hash = SHA256()
        hash.update(try [UInt8](Data(contentsOf: dir.appendingPathComponent("samples-diffusers.png"))))
        #expect(hash.hexDigest() == stated, "samples-diffusers.png is not the picture the card's run wrote: rerun the script")
    }

    @Test("every shipped model is listed and samples over HTTP")
    func everyModelServes() async throws {
        let models = try ScoreModel.loadAll(root: Self.models.path)
        #expect(Set(Self.trained + ["gmm-demo"]).isSubset(of: Set(models.map(\.name))))
        try await withServer(models: models) { s in
            let list = try await s.get("/v1/models")
            #expect(list.status == 200)
            for m in models {
                #expect(list.text.contains("\"name\":\"\(m.name)\""))
                let r = try await s.post("/v1/models/\(m.name)/sample",
                                         #"{"n":2,"seed":1,"sampler":"ode","method":"euler","steps":50}"#)
                #expect(r.status == 200, "\(m.name): \(r.text)")
                guard case .array(let samples)? = r.object?["samples"] else {
                    Issue.record("\(m.name): no samples array"); continue
                }
                #expect(samples.count == 2)
                let flat = samples.flatMap(Self.flatten)
                #expect(flat.count == 2 * m.data.dimension)
                #expect(flat.allSatisfy { $0.isFinite })
            }
            // digits-vp maps its data through the logit: the listing says so, and a point
            // outside 0…17 is a 400 naming x and the value, not a NaN or a 500.
            let digits = try await s.get("/v1/models/digits-vp")
            #expect(digits.text.contains(#""data_transform":{"type":"logit","alpha":0.0001}"#), "\(digits.text)")
            let point = (0..<64).map { $0 == 5 ? "18" : "3" }.joined(separator: ",")
            let bad = try await s.post("/v1/models/digits-vp/likelihood", #"{"x":[[\#(point)]]}"#)
            #expect(bad.status == 400 && bad.text.contains("x") && bad.text.contains("value 5 of point 0: 18"), "\(bad.text)")
        }
    }

    static func flatten(_ v: JSONValue) -> [Double] {
        if case .array(let items) = v { return items.flatMap(flatten) }
        return [v.doubleValue ?? .nan]
    }
}

/// What a model card (README.md written by Models/recipes/make_card.py) states.
struct ModelCard {
    let text: String
    let command: String
    let fingerprint: String
    let sde: String
    let network: String
    /// `spot check (first K held-out points): M nats/point`.
    let spotCheck: (points: Int, mean: Double)?
    /// `the model is G nats/point below it` (known-density models).
    let gapToTruth: Double?

    struct Missing: Error, CustomStringConvertible { let description: String }

    init(directory: URL) throws {
        text = try String(contentsOf: directory.appendingPathComponent("README.md"), encoding: .utf8)
        func between(_ start: String, _ end: String, in s: Substring) throws -> Substring {
            guard let a = s.range(of: start), let b = s[a.upperBound...].range(of: end) else {
                throw Missing(description: "\(directory.lastPathComponent)/README.md: no '\(start)…\(end)'")
            }
            return s[a.upperBound..<b.lowerBound]
        }
        let all = Substring(text)
        command = String(try between("```sh\n", "\n```", in: all))
        fingerprint = String(try between("weights fingerprint (SHA-256 of the tensor bytes in name order): `", "`", in: all))
        sde = String(try between("- SDE: `", "`", in: all))
        network = String(try between("network: `", "`", in: all))
        if let s = try? between("spot check (first ", " nats/point", in: all) {
            // "K held-out points): M"
            let parts = s.components(separatedBy: " held-out points): ")
            if parts.count == 2, let k = Int(parts[0]), let m = Double(parts[1]) { spotCheck = (k, m) } else { spotCheck = nil }
        } else {
            spotCheck = nil
        }
        gapToTruth = (try? between("the model is ", " nats/point below it", in: all)).flatMap { Double($0) }
    }

    /// The number between `start` and the next `end` in the card's text.
    func number(after start: String, before end: String) -> Double? { Self.number(in: text, after: start, before: end) }

    static func number(in text: String, after start: String, before end: String) -> Double? {
        guard let a = text.range(of: start), let b = text[a.upperBound...].range(of: end) else { return nil }
        return Double(text[a.upperBound..<b.lowerBound].trimmingCharacters(in: .whitespaces))
    }

    static func normalised(_ command: String) -> String {
        command.replacingOccurrences(of: "\\\n", with: " ")
            .split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).joined(separator: " ")
    }

    /// The command without its `--output DIR` (where it was written does not enter the weights).
    static func withoutOutput(_ command: String) -> String {
        var words = normalised(command).split(separator: " ").map(String.init)
        if let i = words.firstIndex(of: "--output"), i + 1 < words.count { words.removeSubrange(i...(i + 1)) }
        return words.joined(separator: " ")
    }

    /// The training commands of the Makefile's `models` target, `$(TRAIN)` spelled out.
    static func makeModelsCommands(_ root: URL) throws -> [String] {
        let makefile = try String(contentsOf: root.appendingPathComponent("Makefile"), encoding: .utf8)
            .replacingOccurrences(of: "\\\n", with: " ")
        guard let start = makefile.range(of: "\nmodels:") else { return [] }
        return makefile[start.upperBound...].split(separator: "\n").dropFirst()
            .prefix { $0.hasPrefix("\t") }
            .map { normalised($0.replacingOccurrences(of: "$(TRAIN)", with: "scoreserve train")) }
    }
}
