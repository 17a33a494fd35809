import CJansson

extension JSONValue {
    /// Parses a JSON document with jansson. Duplicate object keys are rejected
    /// (a repeated field must not silently win), and any value may be the top level.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONError) -> JSONValue {
        var error = json_error_t()
        let flags = sj_reject_duplicates() | sj_decode_any()
        let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self)
        // jansson needs a non-null pointer even for an empty buffer.
        let root: UnsafeMutablePointer<json_t>? = withUnsafePointer(to: CChar(0)) { empty in
            json_loadb(base ?? empty, bytes.count, flags, &error)
        }
        guard let root else {
            let text = withUnsafeBytes(of: error.text) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw JSONError(text.isEmpty ? "invalid JSON" : text,
                            line: Int(error.line), column: Int(error.column), position: Int(error.position))
        }
        defer { sj_decref(root) }
        return convert(root)
    }

    /// Parses a JSON document held in a byte array.
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        do {
            return try bytes.withUnsafeBytes { raw in try parse(raw) }
        } catch let e as JSONError {
            throw e
        } catch {
            throw JSONError("\(error)")
        }
    }

    /// Parses a JSON document held in a string.
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    // jansson limits nesting depth (JSON_PARSER_MAX_DEPTH), so this recursion is bounded.
    private static func convert(_ node: UnsafeMutablePointer<json_t>) -> JSONValue {
        switch json_type(rawValue: UInt32(sj_typeof(node))) {
        case JSON_OBJECT:
            var object = JSONObject()
            var iter = json_object_iter(node)
            while let it = iter {
                let key = String(cString: json_object_iter_key(it))
                if let value = json_object_iter_value(it) { object[key] = convert(value) }
                iter = json_object_iter_next(node, it)
            }
            return .object(object)
        case JSON_ARRAY:
            let n = json_array_size(node)
            var items: [JSONValue] = []
            items.reserveCapacity(n)
            for i in 0..<n {
                if let item = json_array_get(node, i) { items.append(convert(item)) }
            }
            return .array(items)
        case JSON_STRING:
            let length = json_string_length(node)
            guard let chars = json_string_value(node) else { return .string("") }
            let buffer = UnsafeRawBufferPointer(start: chars, count: length)
            return .string(String(decoding: buffer, as: UTF8.self))
        case JSON_INTEGER:
            return .integer(Int64(json_integer_value(node)))
        case JSON_REAL:
            return .number(json_real_value(node))
        case JSON_TRUE:
            return .bool(true)
        case JSON_FALSE:
            return .bool(false)
        default:
            return .null
        }
    }
}
