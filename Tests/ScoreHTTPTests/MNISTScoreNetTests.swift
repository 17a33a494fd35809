import Foundation
import Testing
import ScoreCore
@testable import ScoreSampling

/// The shipped image model: the PyTorch tutorial's ScoreNet trained on MNIST digits
/// (Models/recipes/train_scorenet.py). Its parity with PyTorch is ScoreNetTests'.
@Suite("The shipped mnist-scorenet model", .serialized)
struct MNISTScoreNetTests {
    static let directory = ShippedModelTests.models.appendingPathComponent("mnist-scorenet")
    static let heldOutFile = ShippedModelTests.models.appendingPathComponent("data/mnist-heldout.npy")
    /// One worker: a conv-net chunk holds its Dispatch worker for the whole trajectory (a
    /// second or more here), and the HTTP suites that run beside this one, whose deadlines
    /// and cancellation tests are timed, need the machine's other worker.
    static let engine = SamplingEngine(threads: 1)

    /// Root-mean-square pixel distance (pixels in [0, 1]) from each image to its nearest
    /// neighbour among `reference`.
    static func nearestDistances(_ images: [Double], _ reference: [Double], d: Int) -> [Double] {
        let n = images.count / d, m = reference.count / d
        return (0..<n).map { i in
            var best = Double.infinity
            for j in 0..<m {
                var sum = 0.0
                for k in 0..<d {
                    let diff = (images[i * d + k] - reference[j * d + k]) / 255
                    sum += diff * diff
                }
                best = min(best, sum)
            }
            return (best / Double(d)).squareRoot()
        }
    }

    static func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }

    /// Share of the images' intensity |x| in the 3-pixel frame of the 28 × 28 picture (as
    /// Models/recipes/evaluate_scorenet.sh measures it).
    static func borderShare(_ images: [Double]) -> Double {
        var frame = 0.0, total = 0.0
        for (i, v) in images.enumerated() {
            let row = (i % 784) / 28, column = i % 28
            total += abs(v)
            if row < 3 || row >= 25 || column < 3 || column >= 25 { frame += abs(v) }
        }
        return frame / total
    }

    /// The MNIST cards' likelihood figures come from evaluate_scorenet.sh, which also prints
    /// the mean of its first two held-out digits; a point's log-likelihood does not depend on
    /// the other points of the request, so those two are recomputed here (the tolerance only
    /// covers another machine's kernels).
    @Test("the MNIST cards' likelihood spot checks are what the engine computes",
          arguments: ["mnist-scorenet", "mnist-unet2d"])
    func likelihoodSpotCheck(name: String) throws {
        let dir = ShippedModelTests.models.appendingPathComponent(name)
        let card = try String(contentsOf: dir.appendingPathComponent("README.md"), encoding: .utf8)
        let stated = try #require(ModelCard.number(in: card, after: "spot check (first 2 held-out digits): ", before: " nats/point"))
        let model = try ScoreModel.load(directory: dir.path)
        let d = model.data.dimension
        let held = try PointsFile.read(path: Self.heldOutFile.path, dimension: d)
        var options = LikelihoodOptions()
        options.x = Array(held[0..<(2 * d)])
        options.seed = 0
        options["estimator"] = "hutchinson"
        options["dequantize"] = 1
        let ll = try Self.engine.likelihoodBlocking(model, options).logLikelihood
        let mean = (ll[0] + ll[1]) / 2
        #expect(abs(mean - stated) <= 1e-3 * max(1, abs(stated)), "\(name): \(mean) nats/point, the card says \(stated)")
    }

    /// The first n ODE samples of evaluate_scorenet.sh's run (rk45 at its default 1e-5,
    /// seed 1) in data space, with the held-out digits and the dimension.
    static func cardSamples(_ directory: URL, n: Int) throws -> (samples: [Double], held: [Double], d: Int) {
        let model = try ScoreModel.load(directory: directory.path)
        let d = model.data.dimension
        var o = SampleOptions()
        o.n = n
        o.seed = 1
        o.sampler = "ode"
        let samples = try Self.engine.sampleBlocking(model, o).samples.map(Double.init)
        return (samples, try PointsFile.read(path: heldOutFile.path, dimension: d), d)
    }

    /// evaluate_scorenet.sh also measures the first 4 of its 64 ODE samples alone: `first4`
    /// must match the card's spot check line.
    static func expectSpotCheck(_ card: String, _ first4: [Double], _ held: [Double], d: Int, _ name: String) throws {
        let border = try #require(ModelCard.number(in: card, after: "spot check (first 4 samples): border share ", before: "%"))
        let distance = try #require(ModelCard.number(in: card, after: "%, nearest held-out digit ", before: "\n"))
        let drawnBorder = 100 * borderShare(first4)
        let drawn = mean(nearestDistances(first4, Array(held[(64 * d)...]), d: d))
        #expect(abs(drawnBorder - border) <= 2e-4, "\(name): border share \(drawnBorder)%, the card says \(border)%")
        #expect(abs(drawn - distance) <= 1e-5, "\(name): nearest held-out digit \(drawn), the card says \(distance)")
    }

    /// A sample depends only on (seed, index), so mnist-unet2d's 4 are redrawn alone (its
    /// full 64 would take a minute and a half); mnist-scorenet's are the first 4 of
    /// `cardFigures`' 64.
    @Test("mnist-unet2d's sample spot check is what the engine draws")
    func sampleSpotCheck() throws {
        let dir = ShippedModelTests.models.appendingPathComponent("mnist-unet2d")
        let card = try String(contentsOf: dir.appendingPathComponent("README.md"), encoding: .utf8)
        let (samples, held, d) = try Self.cardSamples(dir, n: 4)
        try Self.expectSpotCheck(card, samples, held, d: d, "mnist-unet2d")
    }

    /// The card's figures from Models/recipes/evaluate_scorenet.sh (digit_metrics.py) meet
    /// issue 21's bar: 64 ODE samples keep at most 6% of their intensity in the frame and sit
    /// within 15% of real digits' own distance to their nearest held-out digit. The same 64
    /// samples (rk45 at 1e-5, seed 1) are drawn again here and measured by this file's own
    /// copy of the two measures; the tolerance covers the card's rounding and another
    /// machine's kernels.
    @Test("the card's sample figures are what the engine draws, and meet the bar")
    func cardFigures() throws {
        let card = try String(contentsOf: Self.directory.appendingPathComponent("README.md"), encoding: .utf8)
        let border = try #require(ModelCard.number(in: card, after: "(3-pixel frame): ODE samples ", before: "%"))
        let distance = try #require(ModelCard.number(in: card, after: "(RMS, pixels in [0, 1]): ODE samples ", before: ","))
        let excess = try #require(ModelCard.number(in: card, after: "(samples ", before: "%)"))
        #expect(border <= 6, "border share \(border)%")
        #expect(excess <= 15, "samples \(excess)% farther from held-out digits than real digits")

        let (samples, held, d) = try Self.cardSamples(Self.directory, n: 64)
        let reference = Array(held[(64 * d)...])
        let drawnBorder = 100 * Self.borderShare(samples)
        let drawn = Self.mean(Self.nearestDistances(samples, reference, d: d))
        let real = Self.mean(Self.nearestDistances(Array(held[0..<(64 * d)]), reference, d: d))
        #expect(abs(drawnBorder - border) <= 0.02, "border share \(drawnBorder)%, the card says \(border)%")
        #expect(abs(drawn - distance) <= 2e-4, "nearest held-out digit \(drawn), the card says \(distance)")
        #expect(abs(100 * (drawn / real - 1) - excess) <= 0.2, "samples \(100 * (drawn / real - 1))%, the card says \(excess)%")
        try Self.expectSpotCheck(card, Array(samples[0..<(4 * d)]), held, d: d, "mnist-scorenet")
    }

    /// Fraction of pixels below 10% and above 90% of full scale.
    static func inkProfile(_ images: [Double]) -> (dark: Double, bright: Double) {
        let n = Double(images.count)
        return (Double(images.filter { $0 < 25.5 }.count) / n, Double(images.filter { $0 > 229.5 }.count) / n)
    }

    /// A chunk holds its worker until its rows finish every step, so a costly network's
    /// chunks hold one image (about 33 MFLOP per evaluation here, against 0.1 M for the
    /// 2-D mlp, whose chunks keep their row groups of 4 and more).
    @Test("chunks of the conv U-Net hold one image; the 2-D mlp's keep their row groups")
    func chunkCost() throws {
        let scorenet = try ScoreModel.load(directory: Self.directory.path).network
        #expect(scorenet.flopsPerRow > 3e7 && scorenet.flopsPerRow < 4e7, "\(scorenet.flopsPerRow)")
        #expect(SamplingEngine.costLimit(scorenet, evaluations: 200) == 1)
        #expect(SamplingEngine.costLimit(scorenet, evaluations: 1000) == 1)
        let mlp = try ScoreModel.load(directory: ShippedModelTests.models.appendingPathComponent("moons-vp").path).network
        #expect(SamplingEngine.costLimit(mlp, evaluations: 1000) >= 8)
        #expect(SamplingEngine.costLimit(mlp, evaluations: 1000) % BLAS.rowGroup == 0)
    }

    /// ODE samples must look like digits by two simple measures against held-out digits
    /// the model never saw. Nearest-neighbour distance: real digits (16 held-out ones,
    /// against the other 484) sit at distance r; the same 16 digits with their pixels
    /// shuffled (same ink, no strokes) at distance s; samples must be nearer than the
    /// midpoint (r + s) / 2, i.e. closer to "a digit" than to "the right amount of ink
    /// anywhere". Pixel profile: like MNIST, mostly black background with saturated
    /// strokes, within 0.1 of the held-out fractions.
    @Test("ODE samples are digit-like (nearest held-out digits, pixel profile)")
    func samplesAreDigitLike() throws {
        let model = try ScoreModel.load(directory: Self.directory.path)
        let d = model.data.dimension
        let held = try PointsFile.read(path: Self.heldOutFile.path, dimension: d)
        #expect(held.count == 500 * d)
        var o = SampleOptions()
        o.n = 16
        o.seed = 1
        o.sampler = "ode"
        o["rtol"] = .number(1e-3)
        o["atol"] = .number(1e-3)
        let result = try Self.engine.sampleBlocking(model, o)
        let samples = result.samples.map(Double.init)
        #expect(samples.allSatisfy { $0.isFinite })

        let probes = Array(held[0..<(16 * d)]), reference = Array(held[(16 * d)...])
        var rng = SplitMix64(seed: 7)
        var shuffled = probes
        for i in 0..<16 {
            for k in stride(from: d - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(k + 1))
                shuffled.swapAt(i * d + k, i * d + j)
            }
        }
        let real = Self.mean(Self.nearestDistances(probes, reference, d: d))
        let noise = Self.mean(Self.nearestDistances(shuffled, reference, d: d))
        let drawn = Self.mean(Self.nearestDistances(samples, reference, d: d))
        #expect(real < noise, "real \(real), shuffled \(noise)")
        #expect(drawn < (real + noise) / 2, "samples at \(drawn); real digits \(real), shuffled \(noise)")

        // Little stray ink at the edges: real digits keep at most 3.2% of their intensity
        // in the 3-pixel frame per batch of 8 (the card's range over the held-out digits);
        // the model trained with the tutorial's plain loss kept about 10% there, as bright
        // dots in three corners (issue 21, item 2).
        let frameShare = Self.borderShare(samples)
        #expect(frameShare <= 0.06, "\(100 * frameShare)% of the samples' intensity in the 3-pixel frame")
        let heldProfile = Self.inkProfile(held), sampleProfile = Self.inkProfile(samples)
        #expect(abs(sampleProfile.dark - heldProfile.dark) < 0.1, "dark pixels \(sampleProfile.dark) vs \(heldProfile.dark)")
        #expect(abs(sampleProfile.bright - heldProfile.bright) < 0.1,
                "bright pixels \(sampleProfile.bright) vs \(heldProfile.bright)")
    }
}
