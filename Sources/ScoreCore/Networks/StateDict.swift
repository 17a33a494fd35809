/// A safetensors file read as a PyTorch `state_dict` for a strict load: a leading
/// `module.` (DataParallel) is stripped from every name, shapes are checked against
/// what the network expects, and a tensor the network does not name is an error, as in
/// PyTorch's `load_state_dict(strict=True)`.
struct StateDict {
    let file: SafeTensors
    let path: String
    /// What the expected shapes follow from (e.g. "config.json's network nf 128, …"),
    /// added to shape, missing and unexpected tensor errors.
    var implied: String?
    private var byName: [String: SafeTensors.TensorInfo] = [:]

    init(_ file: SafeTensors, path: String) throws(ModelLoadError) {
        self.file = file
        self.path = path
        for info in file.tensors {
            let name = info.name.hasPrefix("module.") ? String(info.name.dropFirst(7)) : info.name
            guard byName.updateValue(info, forKey: name) == nil else {
                throw ModelLoadError(file: path, subject: "tensor '\(info.name)'",
                                     "appears both with and without the 'module.' prefix")
            }
        }
    }

    func contains(_ name: String) -> Bool { byName[name] != nil }

    func error(_ name: String, _ message: String) -> ModelLoadError {
        ModelLoadError(file: path, subject: "tensor '\(name)'", message)
    }

    private var because: String { implied.map { " (\($0))" } ?? "" }

    func shape(_ name: String) throws(ModelLoadError) -> [Int] {
        guard let info = byName[name] else { throw ModelLoadError(file: path, "missing tensor '\(name)'\(because)") }
        return info.shape
    }

    func values(_ name: String, _ expected: [Int]) throws(ModelLoadError) -> [Float] {
        guard let info = byName[name] else { throw ModelLoadError(file: path, "missing tensor '\(name)'\(because)") }
        guard info.shape == expected else { throw error(name, "shape \(info.shape), expected \(expected)\(because)") }
        do { return try file.floats(info.name) } catch {
            throw self.error(name, "\(error)")
        }
    }

    /// Fails on any tensor outside `expected`, naming up to five.
    func rejectUnexpected(_ expected: Set<String>, network: String) throws(ModelLoadError) {
        let unexpected = byName.keys.filter { !expected.contains($0) }.sorted()
        guard unexpected.isEmpty else {
            let list = unexpected.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            throw ModelLoadError(file: path, "unexpected tensor\(unexpected.count > 1 ? "s" : "") \(list)\(unexpected.count > 5 ? ", …" : "") for network '\(network)'\(because)")
        }
    }
}
