extension JSONValue {
    /// Encodes the value as compact JSON text.
    ///
    /// Numbers are written in their shortest round-trip form (Float32 values as
    /// Float32), which jansson's `%.17g` formatting cannot do. A NaN or infinity is
    /// an error: JSON has no such numbers and the contract forbids them.
    public func encoded() throws(JSONError) -> String {
        var out = ""
        try JSONValue.write(self, into: &out, path: "$")
        return out
    }

    private static func write(_ value: JSONValue, into out: inout String, path: String) throws(JSONError) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .number(let d):
            guard d.isFinite else { throw JSONError("non-finite number at \(path)") }
            out += JSONValue.shortest(d)
        case .float(let f):
            guard f.isFinite else { throw JSONError("non-finite number at \(path)") }
            out += JSONValue.shortest(f)
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                try write(item, into: &out, path: "\(path)[\(i)]")
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (i, pair) in object.pairs.enumerated() {
                if i > 0 { out += "," }
                writeString(pair.key, into: &out)
                out += ":"
                try write(pair.value, into: &out, path: "\(path).\(pair.key)")
            }
            out += "}"
        }
    }

    /// Shortest round-trip text of a finite Double, valid as a JSON number.
    public static func shortest(_ d: Double) -> String {
        // Swift's description is the shortest round-trip form and is valid JSON
        // for finite values ("1e-05", "0.1", "-0.0", "1e+20").
        d.description
    }

    /// Shortest text that reads back as the same Float32, valid as a JSON number.
    public static func shortest(_ f: Float) -> String {
        f.description
    }

    private static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
