import ScoreJSON

extension SafeTensors {
    /// One F32 tensor to write.
    public struct Entry: Sendable {
        public let name: String
        public let shape: [Int]
        public let values: [Float]

        public init(name: String, shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count, "tensor '\(name)': shape does not match values")
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// Encodes F32 tensors as a safetensors file the reference implementation reads:
    /// tensors in name order, header padded with spaces to a multiple of 8 bytes.
    public static func encode(_ entries: [Entry], metadata: [String: String] = [:]) -> [UInt8] {
        var header = JSONObject()
        if !metadata.isEmpty {
            var m = JSONObject()
            for (k, v) in metadata.sorted(by: { $0.key < $1.key }) { m[k] = .string(v) }
            header["__metadata__"] = .object(m)
        }
        var offset = 0
        let sorted = entries.sorted { $0.name < $1.name }
        for e in sorted {
            let end = offset + 4 * e.values.count
            header[e.name] = .object(JSONObject([
                "dtype": .string("F32"),
                "shape": .array(e.shape.map { .integer(Int64($0)) }),
                "data_offsets": .array([.integer(Int64(offset)), .integer(Int64(end))]),
            ]))
            offset = end
        }
        // Strings and integers only: encoding cannot fail.
        var text = Array(((try? JSONValue.object(header).encoded()) ?? "{}").utf8)
        text += Array(repeating: UInt8(ascii: " "), count: (8 - text.count % 8) % 8)
        var out: [UInt8] = []
        out.reserveCapacity(8 + text.count + offset)
        withUnsafeBytes(of: UInt64(text.count).littleEndian) { out += $0 }
        out += text
        for e in sorted {
            for v in e.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        }
        return out
    }
}
