import Dispatch
import Foundation
import ScoreCore

/// Trains a residual MLP score network by denoising (or sliced) score matching.
///
/// Each step draws a minibatch from the counter-based RNG keyed by (seed, row, step),
/// cuts it into fixed sub-batches whose gradients are computed in parallel with
/// Dispatch and summed in a fixed order, then applies Adam and the EMA: the run is a
/// pure function of its options and data, whatever the thread count.
public final class Trainer {
    public let layout: MLPLayout
    public let sde: SDE
    public let options: TrainingOptions
    /// Training points, [N × D]: in model space, or in data space when `dataMap` is set.
    public let data: [Double]
    /// A non-affine data map (the logit transform), applied to each drawn and dequantized
    /// data-space point: dequantization must act before the map, in the data's levels.
    public let dataMap: DataSpec?
    public private(set) var parameters: [Float]
    public private(set) var adam: AdamState
    /// (step, mean loss) every `logEvery` steps.
    public private(set) var lossLog: [(step: Int, loss: Double)] = []
    private let workers: [Worker]
    /// The summed minibatch gradient, reused every step.
    private var gradient: [Float]
    /// The training-time draw of `options.timeWeighting`, tabulated once.
    private let times: TrainingTimes

    /// One sub-batch's buffers and gradient, reused every step.
    final class Worker: @unchecked Sendable {
        // @unchecked Sendable: each worker is used by one concurrentPerform iteration at a time.
        let backprop: MLPBackprop
        var grad: [Float]
        var x: [Float], times: [Double], target: [Float], noise: [Double], dOut: [Float], plus: [Float]
        var dequantize: [Double]
        var loss = 0.0

        init(layout: MLPLayout, rows: Int) {
            backprop = MLPBackprop(layout: layout, rows: rows)
            let d = layout.dimension
            grad = Array(repeating: 0, count: layout.count)
            x = Array(repeating: 0, count: rows * d)
            times = Array(repeating: 0.5, count: rows)
            target = Array(repeating: 0, count: rows * d)
            noise = Array(repeating: 0, count: d)
            dOut = Array(repeating: 0, count: rows * d)
            plus = Array(repeating: 0, count: rows * d)
            dequantize = Array(repeating: 0, count: d)
        }
    }

    /// `data` is in model space, or, with a `dataMap` whose transform is not affine, in
    /// data space (then `options.dequantizeWidth` is in data units).
    public init(layout: MLPLayout, sde: SDE, data: [Double], options: TrainingOptions, initial: [Float]? = nil,
                dataMap: DataSpec? = nil) {
        precondition(!data.isEmpty && data.count % layout.dimension == 0)
        self.layout = layout
        self.sde = sde
        self.options = options
        self.data = data
        self.dataMap = dataMap.flatMap { $0.transform == .affine ? nil : $0 }
        let p = initial ?? layout.initialParameters(seed: options.seed)
        parameters = p
        adam = AdamState(parameters: p)
        let subBatches = (options.batchSize + options.subBatch - 1) / options.subBatch
        workers = (0..<subBatches).map { _ in Worker(layout: layout, rows: options.subBatch) }
        gradient = Array(repeating: 0, count: layout.count)
        times = TrainingTimes(weighting: options.timeWeighting, sde: sde, eps: options.eps)
    }

    /// The EMA weights (what gets saved).
    public var emaParameters: [Float] { adam.ema }

    /// Runs `count` steps; `report(step, loss)` is called after each.
    public func train(steps count: Int, logEvery: Int = 100, report: ((Int, Double) -> Void)? = nil) {
        var window = 0.0, windowCount = 0
        for _ in 0..<count {
            let loss = step()
            window += loss
            windowCount += 1
            if adam.step % logEvery == 0 || adam.step == options.steps {
                lossLog.append((adam.step, window / Double(windowCount)))
                window = 0
                windowCount = 0
            }
            report?(adam.step, loss)
        }
    }

    /// One optimisation step; returns the minibatch loss.
    @discardableResult
    public func step() -> Double {
        let k = adam.step
        let p = parameters
        let workers = self.workers
        let context = MinibatchContext(layout: layout, sde: sde, options: options, data: data, times: times,
                                       dataMap: dataMap)
        DispatchQueue.concurrentPerform(iterations: workers.count) { s in
            context.fill(workers[s], subBatch: s, step: k, parameters: p)
        }
        // Summed in sub-batch order, into a buffer reused every step.
        gradient.withUnsafeMutableBufferPointer { g in
            workers[0].grad.withUnsafeBufferPointer { g.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
            for w in workers.dropFirst() {
                w.grad.withUnsafeBufferPointer { wg in for i in 0..<g.count { g[i] += wg[i] } }
            }
        }
        var loss = workers[0].loss
        for w in workers.dropFirst() { loss += w.loss }
        _ = adam.update(&parameters, gradient: &gradient, trainable: layout.embedW..<layout.count,
                        learningRate: options.learningRate, warmup: options.warmup,
                        clip: options.gradientClip, emaDecay: options.emaDecay)
        return loss
    }
}

/// What a sub-batch needs to draw its points and compute its gradient (immutable).
struct MinibatchContext: Sendable {
    let layout: MLPLayout
    let sde: SDE
    let options: TrainingOptions
    let data: [Double]
    let times: TrainingTimes
    let dataMap: DataSpec?

    /// Draws sub-batch `s` of step `k` and computes its loss and gradient.
    func fill(_ w: Trainer.Worker, subBatch s: Int, step k: Int, parameters p: [Float]) {
        let d = layout.dimension, rows = options.subBatch
        let n = data.count / d
        let used = Swift.max(0, Swift.min(rows, options.batchSize - s * rows))
        let weight = Float(1.0 / Double(options.batchSize))
        for i in w.grad.indices { w.grad[i] = 0 }
        var u = [Double](repeating: 0, count: 2)
        for r in 0..<rows {
            guard r < used else {
                for j in 0..<d { w.x[r * d + j] = 0; w.target[r * d + j] = 0 }
                w.times[r] = 0.5
                continue
            }
            let row = UInt64(k) * UInt64(options.batchSize) + UInt64(s * rows + r)
            u.withUnsafeMutableBufferPointer {
                Noise.uniform(NoiseKey(seed: options.seed, index: row, step: 0, stream: .trainingIndex), into: $0)
            }
            let index = Swift.min(n - 1, Int(u[0] * Double(n)))
            let t = times.time(u[1])
            w.noise.withUnsafeMutableBufferPointer {
                Noise.normal(NoiseKey(seed: options.seed, index: row, step: 0, stream: .trainingNoise), into: $0)
            }
            let a = sde.meanCoefficient(t), sigma = sde.marginalStd(t)
            w.times[r] = t
            if options.dequantizeWidth > 0 {
                w.dequantize.withUnsafeMutableBufferPointer {
                    Noise.uniform(NoiseKey(seed: options.seed, index: row, step: 0, stream: .trainingDequantize), into: $0)
                }
            }
            for j in 0..<d {
                var x0 = data[index * d + j] + (options.dequantizeWidth > 0 ? w.dequantize[j] * options.dequantizeWidth : 0)
                if let dataMap { x0 = dataMap.toModel(x0, j) }
                w.x[r * d + j] = Float(a * x0 + sigma * w.noise[j])
                w.target[r * d + j] = Float(-w.noise[j])
            }
        }
        p.withUnsafeBufferPointer { pp in
            w.grad.withUnsafeMutableBufferPointer { gp in
                switch options.objective {
                case .dsm:
                    w.loss = w.x.withUnsafeBufferPointer { xp in w.times.withUnsafeBufferPointer { tp in
                        w.target.withUnsafeBufferPointer { yp in
                            w.backprop.lossAndGradient(pp.baseAddress!, x: xp.baseAddress!, times: tp.baseAddress!,
                                                       target: yp.baseAddress!, used: used, weight: weight, grad: gp.baseAddress!)
                        }
                    } }
                case .ssm:
                    w.loss = slicedScoreMatching(w, p: pp.baseAddress!, grad: gp.baseAddress!, used: used, step: k,
                                                 subBatch: s, weight: weight)
                }
            }
        }
    }

    /// SSM loss and gradient for the worker's points: per row, with o = σ s,
    /// ½(vᵀo)² + σ vᵀ(o(x + δv) − o(x − δv))/(2δ), δ = 0.01 σ (so the difference
    /// quotient's factor σ/(2δ) is 50).
    func slicedScoreMatching(_ w: Trainer.Worker, p: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>,
                                     used: Int, step k: Int, subBatch s: Int, weight: Float) -> Double {
        let d = layout.dimension, rows = options.subBatch
        // Projections v, drawn per row, replace the DSM target buffer.
        var v = [Double](repeating: 0, count: d)
        for r in 0..<used {
            let row = UInt64(k) * UInt64(options.batchSize) + UInt64(s * rows + r)
            v.withUnsafeMutableBufferPointer {
                let key = NoiseKey(seed: options.seed, index: row, step: 0, stream: .trainingProjection)
                switch options.projections {
                case .rademacher: Noise.rademacher(key, into: $0)
                case .gaussian: Noise.normal(key, into: $0)
                }
            }
            for j in 0..<d { w.target[r * d + j] = Float(v[j]) }
        }
        let factor: Float = 50
        var loss = 0.0
        // The ½(vᵀo)² term at x.
        w.x.withUnsafeBufferPointer { xp in w.times.withUnsafeBufferPointer { tp in
            w.backprop.forward(p, x: xp.baseAddress!, times: tp.baseAddress!)
        } }
        let o = w.backprop.output
        for r in 0..<rows {
            var vo: Float = 0
            for j in 0..<d where r < used { vo += w.target[r * d + j] * o[r * d + j] }
            loss += 0.5 * Double(vo) * Double(vo)
            for j in 0..<d { w.dOut[r * d + j] = r < used ? weight * vo * w.target[r * d + j] : 0 }
        }
        w.x.withUnsafeBufferPointer { xp in w.dOut.withUnsafeBufferPointer { dp in
            w.backprop.backward(p, x: xp.baseAddress!, dOutput: dp.baseAddress!, grad: grad)
        } }
        // The Jacobian term at x ± δv.
        for sign: Float in [1, -1] {
            for r in 0..<rows {
                let delta = Float(0.01 * sde.marginalStd(w.times[r]))
                for j in 0..<d { w.plus[r * d + j] = w.x[r * d + j] + sign * delta * w.target[r * d + j] }
            }
            w.plus.withUnsafeBufferPointer { xp in w.times.withUnsafeBufferPointer { tp in
                w.backprop.forward(p, x: xp.baseAddress!, times: tp.baseAddress!)
            } }
            let o = w.backprop.output
            for r in 0..<rows {
                var vo: Float = 0
                for j in 0..<d where r < used { vo += w.target[r * d + j] * o[r * d + j] }
                loss += Double(sign * factor * vo)
                for j in 0..<d { w.dOut[r * d + j] = r < used ? weight * sign * factor * w.target[r * d + j] : 0 }
            }
            w.plus.withUnsafeBufferPointer { xp in w.dOut.withUnsafeBufferPointer { dp in
                w.backprop.backward(p, x: xp.baseAddress!, dOutput: dp.baseAddress!, grad: grad)
            } }
        }
        return loss * Double(weight)
    }
}
