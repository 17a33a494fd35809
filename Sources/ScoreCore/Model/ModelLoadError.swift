/// A model directory that cannot be loaded. The message names the file, the key or
/// tensor at fault, and what was expected.
public struct ModelLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file at fault (config.json, the weights file, a data file, or the directory).
    public let file: String
    /// The key path ("sde.beta_min") or tensor ("tensor 'proj_in.weight'"); nil when the
    /// whole file is at fault.
    public let subject: String?
    public let message: String

    public init(file: String, subject: String? = nil, _ message: String) {
        self.file = file
        self.subject = subject
        self.message = message
    }

    public var description: String {
        if let subject { "\(file): \(subject): \(message)" } else { "\(file): \(message)" }
    }
}
