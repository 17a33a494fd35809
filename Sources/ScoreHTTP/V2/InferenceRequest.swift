import ScoreJSON

/// The body of an Open Inference Protocol `infer` request: a JSON object, optionally
/// followed by the inputs' raw bytes (the binary tensor extension: the JSON's length is
/// the `Inference-Header-Content-Length` header, and each binary input says its
/// `binary_data_size`, in order). Every error names the member at fault.
struct InferenceRequest: Sendable {
    /// An input tensor, its elements as Doubles (row-major).
    struct Input: Sendable {
        let name: String
        let shape: [Int]
        let datatype: InferenceDatatype
        let values: [Double]
    }

    /// A requested output; `binary` nil: the request's `binary_data_output`.
    struct Output: Sendable {
        let name: String
        let binary: Bool?
    }

    var id: String?
    /// The request's `parameters`, in order (`binary_data_output` taken out).
    var parameters: [(String, JSONValue)] = []
    var inputs: [Input] = []
    /// nil: every output of the task.
    var outputs: [Output]?
    /// `binary_data_output`: outputs in binary unless they say otherwise.
    var binaryOutput = false

    /// Top-level members a client may send: the protocol's, and `model_name` /
    /// `model_version`, which kserve's client adds.
    static let members: Set<String> = ["id", "parameters", "inputs", "outputs", "model_name", "model_version"]

    /// Parses `body`; `headerLength` is `Inference-Header-Content-Length` when given.
    /// `maxElements` bounds each input (the request's points and their size).
    static func parse(_ body: [UInt8], headerLength: Int?, maxElements: Int) throws(APIError) -> InferenceRequest {
        let jsonEnd = headerLength ?? body.count
        guard jsonEnd >= 0, jsonEnd <= body.count else {
            throw .invalid("Inference-Header-Content-Length \(jsonEnd) is past the body's \(body.count) bytes")
        }
        let root: JSONValue
        do { root = try JSONValue.parse(Array(body[0..<jsonEnd])) } catch {
            throw .invalid("malformed JSON: \(error)")
        }
        guard case .object(let o) = root else { throw .invalid("the request must be a JSON object, got \(root.typeName)") }
        if let unknown = o.pairs.first(where: { !members.contains($0.0) })?.0 {
            throw .invalid(field: unknown, "unknown member of an inference request")
        }
        var request = InferenceRequest()
        if let id = o["id"] {
            guard case .string(let s) = id else { throw .invalid(field: "id", "must be a string, got \(id.typeName)") }
            request.id = s
        }
        if let p = o["parameters"] {
            guard case .object(let parameters) = p else {
                throw .invalid(field: "parameters", "must be an object, got \(p.typeName)")
            }
            for (name, value) in parameters.pairs {
                if name == "binary_data_output" {
                    guard case .bool(let b) = value else { throw .invalid(field: name, "must be true or false") }
                    request.binaryOutput = b
                } else {
                    request.parameters.append((name, value))
                }
            }
        }
        guard case .array(let inputs)? = o["inputs"] else {
            throw .invalid(field: "inputs", o["inputs"] == nil ? "is required (an array of tensors)" : "must be an array of tensors")
        }
        var offset = jsonEnd
        for (i, item) in inputs.enumerated() {
            let input = try Self.input(item, at: "inputs[\(i)]", body: body, offset: &offset, binary: headerLength != nil,
                                       maxElements: maxElements)
            if request.inputs.contains(where: { $0.name == input.name }) {
                throw .invalid(field: "inputs[\(i)].name", "'\(input.name)' is given twice")
            }
            request.inputs.append(input)
        }
        guard offset == body.count else {
            throw .invalid("the body has \(body.count - offset) bytes after the JSON and the inputs' binary data")
        }
        if let outputs = o["outputs"] {
            guard case .array(let items) = outputs else { throw .invalid(field: "outputs", "must be an array") }
            request.outputs = []
            for (i, item) in items.enumerated() {
                let at = "outputs[\(i)]"
                guard case .object(let out) = item, case .string(let name)? = out["name"] else {
                    throw .invalid(field: at, "must be an object with a name")
                }
                var binary: Bool?
                if case .object(let p)? = out["parameters"] {
                    for (key, value) in p.pairs {
                        switch (key, value) {
                        case ("binary_data", .bool(let b)): binary = b
                        // tritonclient's classification extension, off: nothing to do.
                        case ("classification", .integer(0)): break
                        default: throw .invalid(field: "\(at).parameters.\(key)", "is not supported")
                        }
                    }
                }
                request.outputs!.append(Output(name: name, binary: binary))
            }
        }
        return request
    }

    /// One input tensor: `name`, `shape`, `datatype` and its elements in `data` (nested
    /// or flat) or, with `parameters.binary_data_size`, in the body at `offset`.
    private static func input(_ item: JSONValue, at: String, body: [UInt8], offset: inout Int, binary: Bool,
                              maxElements: Int) throws(APIError) -> Input {
        guard case .object(let o) = item else { throw .invalid(field: at, "must be a tensor object") }
        guard case .string(let name)? = o["name"] else { throw .invalid(field: "\(at).name", "is required (a string)") }
        let label = "input '\(name)'"
        guard case .string(let typeName)? = o["datatype"] else { throw .invalid(field: label, "needs a datatype (a string)") }
        guard let datatype = InferenceDatatype(rawValue: typeName) else {
            throw .invalid(field: label, "datatype '\(typeName)' is not one of \(InferenceDatatype.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard datatype.isNumeric else { throw .invalid(field: label, "datatype \(typeName) is not numeric") }
        guard case .array(let dims)? = o["shape"] else { throw .invalid(field: label, "needs a shape (an array of integers)") }
        var shape: [Int] = [], count = 1, overflow = false
        for d in dims {
            guard case .integer(let n) = d, n >= 0, n <= Int64(maxElements) else {
                throw .invalid(field: label, "shape must hold non-negative integers up to \(maxElements)")
            }
            shape.append(Int(n))
            let (product, over) = count.multipliedReportingOverflow(by: Int(n))
            overflow = overflow || over
            count = product
        }
        // A zero later in the shape must not hide an earlier overflow.
        guard !overflow, count <= maxElements else {
            throw .invalid(field: label, "shape \(shape) holds more than the \(maxElements) elements allowed here")
        }
        var binarySize: Int?
        if case .object(let p)? = o["parameters"] {
            for (key, value) in p.pairs {
                guard key == "binary_data_size", case .integer(let n) = value, n >= 0 else {
                    throw .invalid(field: "\(label) parameters.\(key)", "is not supported")
                }
                binarySize = Int(n)
            }
        }
        if let size = binarySize {
            guard binary else {
                throw .invalid(field: label, "has binary_data_size but the request has no Inference-Header-Content-Length")
            }
            guard o["data"] == nil else { throw .invalid(field: label, "has both data and binary_data_size") }
            guard size == count * datatype.byteSize! else {
                throw .invalid(field: label, "binary_data_size \(size) is not \(count) \(typeName) elements of \(datatype.byteSize!) bytes")
            }
            guard size <= body.count - offset else {
                throw .invalid(field: label, "binary_data_size \(size) is past the end of the body")
            }
            let values = datatype.decode(body[offset..<(offset + size)], count: count)
            offset += size
            // JSON cannot carry NaN or infinities; binary data can, and they are no input.
            if let i = values.firstIndex(where: { !$0.isFinite }) {
                throw .invalid(field: label, "element \(i) is \(values[i]) (inputs must be finite)")
            }
            return Input(name: name, shape: shape, datatype: datatype, values: values)
        }
        guard let data = o["data"] else { throw .invalid(field: label, "needs data or parameters.binary_data_size") }
        var values: [Double] = [], seen = 0
        // At most what the body can hold (two bytes per number), whatever the shape claims.
        values.reserveCapacity(Swift.min(count, body.count / 2))
        guard flatten(data, into: &values, seen: &seen, limit: count) else {
            throw .invalid(field: label, "data must hold numbers (flat or nested)")
        }
        guard seen == count else {
            throw .invalid(field: label, "data holds \(seen) elements, shape \(shape) needs \(count)")
        }
        return Input(name: name, shape: shape, datatype: datatype, values: values)
    }

    /// Appends the numbers of `v` (a number or nested arrays of them), up to `limit`,
    /// counting all of them in `seen`; false if anything else is in it.
    private static func flatten(_ v: JSONValue, into out: inout [Double], seen: inout Int, limit: Int) -> Bool {
        switch v {
        case .array(let items):
            for item in items {
                guard flatten(item, into: &out, seen: &seen, limit: limit) else { return false }
            }
            return true
        default:
            guard let d = v.doubleValue else { return false }
            seen += 1
            if out.count < limit { out.append(d) }
            return true
        }
    }
}
