import ScoreSampling

/// The tensors of the Open Inference Protocol routes, by task: one table that the model
/// metadata, `infer`'s reading of inputs and its answer all follow. Inputs are the
/// `/v1` request fields that hold points or times; every other `/v1` field of a task is
/// a request parameter of the same name.
enum InferenceTensors {
    struct Tensor: Sendable {
        let name: String
        let datatype: InferenceDatatype
        /// Shape [n, ...data.shape] (a point each) rather than [n].
        let perPoint: Bool
        let tasks: Set<ScoreSampling.Operation>

        /// Its shape in the model metadata: −1 for the count.
        func metadataShape(_ dataShape: [Int]) -> [Int] { perPoint ? [-1] + dataShape : [-1] }
    }

    static let inputs: [Tensor] = [
        Tensor(name: "latents", datatype: .FP32, perPoint: true, tasks: [.sample]),
        Tensor(name: "x", datatype: .FP32, perPoint: true, tasks: [.likelihood, .encode, .score]),
        Tensor(name: "t", datatype: .FP64, perPoint: false, tasks: [.score]),
    ]

    static let outputs: [Tensor] = [
        Tensor(name: "samples", datatype: .FP32, perPoint: true, tasks: [.sample]),
        Tensor(name: "log_likelihood", datatype: .FP64, perPoint: false, tasks: [.sample, .likelihood]),
        Tensor(name: "bits_per_dim", datatype: .FP64, perPoint: false, tasks: [.sample, .likelihood]),
        Tensor(name: "latents", datatype: .FP64, perPoint: true, tasks: [.likelihood, .encode]),
        Tensor(name: "score", datatype: .FP32, perPoint: true, tasks: [.score]),
        Tensor(name: "nfe", datatype: .INT64, perPoint: false, tasks: [.sample, .likelihood, .encode]),
    ]

    /// The request parameter that picks the task (`sample` when absent).
    static let taskParameter = "task"
}
