import ScoreCore

/// A sampler of `POST /v1/models/{name}/sample`: one type in one file, listed once in
/// `SamplerRegistry`. The engine, admission, the CLI and the OpenAPI document ask it
/// (through the registry and `SamplePlan`) and never switch over sampler names.
///
/// `init` validates the request for a model and keeps what `run` needs; `run` advances
/// one chunk of trajectories from x(T) (the prior or the given latents, already in
/// `chunk.state.x`) to the answer in model space.
protocol Sampler: Sendable {
    /// The value of the `sampler` field that selects it.
    static var name: String { get }
    /// One line for the API's and the CLI's documentation.
    static var summary: String { get }
    /// Rows of its own in the request-field table (sample only).
    static var ownFields: [RequestField] { get }
    /// Names of the shared sampler-specific rows it accepts (`latents`, `rtol`, ...).
    static var sharedFields: Set<String> { get }
    /// Conditions on its fields beyond the sampler, for messages (`probes`: "with
    /// log_likelihood").
    static var fieldConditions: [String: String] { get }
    /// `steps` when the request leaves it out.
    static var defaultSteps: Int { get }

    /// Validates the sampler's fields of `request` for its model.
    init(_ request: SampleRequest) throws(SamplingError)

    /// Network evaluations per sample (a nominal count for adaptive solvers), for
    /// admission and chunk sizing.
    var evaluationsPerSample: Int { get }
    /// Tangents (JVPs) per evaluation, 0 without a divergence.
    var tangentsPerEvaluation: Int { get }
    /// The times at which every row is evaluated, when they are the same for all rows
    /// and there are at most `maxSteps` of them (the engine then precomputes the
    /// network's time conditioning once per job); nil otherwise, without building them.
    func sharedTimeGrid(maxSteps: Int) -> [Double]?
    /// How rows may be grouped into chunks.
    var chunking: SamplerChunking { get }
    /// Whether `run` writes a log-likelihood per row.
    var returnsLogLikelihood: Bool { get }

    /// Runs one chunk; see `SampleChunk`.
    func run(_ chunk: SampleChunk) throws(SamplingError)
}

extension Sampler {
    static var ownFields: [RequestField] { [] }
    static var sharedFields: Set<String> { [] }
    static var fieldConditions: [String: String] { [:] }
    static var defaultSteps: Int { 1000 }
    var tangentsPerEvaluation: Int { 0 }
    func sharedTimeGrid(maxSteps: Int) -> [Double]? { nil }
    var chunking: SamplerChunking { .lockstep }
    var returnsLogLikelihood: Bool { false }
}

/// How a sampler's rows may be cut into chunks. Chunking never changes a row's numbers
/// except with `.wholeRequest`, whose rows are coupled.
enum SamplerChunking: Sendable, Equatable {
    /// Rows step together; any chunk size.
    case lockstep
    /// Rows take their own steps and finish at different times: small chunks balance
    /// the workers.
    case adaptive
    /// Every step couples all of the request's rows: one chunk holds them all, and the
    /// samples depend on `n` (no sharding).
    case wholeRequest
}

/// What a sampler's `init` reads: the request's fields, the model, and the fields every
/// sampler shares, already checked.
struct SampleRequest {
    let model: ScoreModel
    let values: FieldValues
    let n: Int
    let seed: UInt64
    let offset: UInt64
    /// `steps`, or the sampler's default.
    let steps: Int
    /// Whether `steps` was given.
    let stepsGiven: Bool
    let eps: Double
    /// `denoise` as given.
    let denoise: Bool?

    var sde: SDE { model.sde }
    var dimension: Int { model.data.dimension }
}

/// One chunk of a sampling job: rows `first ..< first + state.rows` of the request.
struct SampleChunk {
    /// x(T) on entry; the answer in model space when `run` returns. `state.nfe` counts.
    let state: ChunkState
    let first: Int
    let seed: UInt64
    /// The request's offset: row r is sample `offset + first + r` of the seed's sequence.
    let offset: UInt64
    let control: JobControl
    /// One log-likelihood per row (nats, model space: the engine adds the data
    /// scaler's Jacobian), written when the sampler returns them.
    let logLikelihood: UnsafeMutablePointer<Double>
    /// Threads a `.wholeRequest` chunk may use for its rows (the engine's width); the
    /// answer never depends on it.
    var parallelism = 1

    /// The global sample index of chunk row `r`.
    func index(_ r: Int) -> UInt64 { offset + UInt64(first + r) }
}
