import Foundation
import Testing
import ScoreCore
@testable import ScoreSampling

/// Time tables kept across jobs: the same network and grid share one table, a table
/// over the capacity is not kept, the least recently used goes first, and a request
/// answers the same bits with its table cached or fresh.
@Suite("Time tables kept across jobs")
struct TimeTableCacheTests {
    static let moons = ReproducibilityTests.fixtures.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models/moons-vp")

    @Test("one table per network and grid; least recently used evicted at the capacity")
    func sharing() throws {
        let network = try ScoreModel.load(directory: Self.moons.path).network
        let a = [1.0, 0.5, 0.001], b = [1.0, 0.4, 0.001], c = [0.9, 0.5, 0.001]
        let cache = TimeTableCache(capacity: 200)
        let first = cache.table(network, grid: a, bytes: 100, maxBytes: 1 << 20)
        #expect(cache.table(network, grid: a, bytes: 100, maxBytes: 1 << 20) === first)
        let other = cache.table(network, grid: b, bytes: 100, maxBytes: 1 << 20)
        #expect(other !== first)
        _ = cache.table(network, grid: a, bytes: 100, maxBytes: 1 << 20)   // a is now the more recent
        _ = cache.table(network, grid: c, bytes: 100, maxBytes: 1 << 20)   // evicts b, keeps a
        #expect(cache.table(network, grid: a, bytes: 100, maxBytes: 1 << 20) === first)
        #expect(cache.table(network, grid: b, bytes: 100, maxBytes: 1 << 20) !== other)
        // Larger than the whole capacity: made for the job, never kept.
        let big = cache.table(network, grid: a + [0.0005], bytes: 300, maxBytes: 1 << 20)
        #expect(cache.table(network, grid: a + [0.0005], bytes: 300, maxBytes: 1 << 20) !== big)
    }

    @Test("a grid longer than the engine's table limit is not built at all")
    func longGridNotBuilt() throws {
        let model = try ScoreModel.load(directory: Self.moons.path)
        var o = SampleOptions(); o.n = 1; o.sampler = "euler_maruyama"
        o.steps = SamplingEngine.maxTableSteps
        let grid = try SamplePlan(model, o).sampler.sharedTimeGrid(maxSteps: SamplingEngine.maxTableSteps)
        #expect(grid?.count == SamplingEngine.maxTableSteps)
        #expect(grid?.first == model.sde.T)
        #expect(zip(grid ?? [], (grid ?? []).dropFirst()).allSatisfy { $0 > $1 && $1 >= model.sde.samplingEps })
        // One step more (up to 10⁶ per request): nil, with no grid of times made to find that out.
        o.steps = SamplingEngine.maxTableSteps + 1
        #expect(try SamplePlan(model, o).sampler.sharedTimeGrid(maxSteps: SamplingEngine.maxTableSteps) == nil)
        o.sampler = "ode"; o.steps = nil
        #expect(try SamplePlan(model, o).sampler.sharedTimeGrid(maxSteps: .max) == nil)
    }

    @Test("a request answers the same bits with its time table cached as with a fresh one")
    func sameBits() throws {
        let model = try ScoreModel.load(directory: Self.moons.path)
        var o = SampleOptions(); o.n = 3; o.seed = 2; o.steps = 50; o.sampler = "euler_maruyama"
        let engine = SamplingEngine(threads: 1)
        let fresh = try engine.sampleNow(model, o), cached = try engine.sampleNow(model, o)
        let other = try SamplingEngine(threads: 2).sampleNow(model, o)
        #expect(fresh.samples.map(\.bitPattern) == cached.samples.map(\.bitPattern))
        #expect(fresh.samples.map(\.bitPattern) == other.samples.map(\.bitPattern))
    }
}
