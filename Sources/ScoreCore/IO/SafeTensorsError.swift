/// Why a safetensors file was rejected; every case says what was expected.
public enum SafeTensorsError: Error, Sendable, Equatable, CustomStringConvertible {
    case fileTooSmall(bytes: Int)
    case headerTooLarge(bytes: UInt64)
    case headerPastEnd(headerBytes: UInt64, fileBytes: Int)
    case headerNotUTF8
    case headerNotObject
    case headerNotJSON(String)
    case invalidMetadata(String)
    case invalidEntry(tensor: String, reason: String)
    case unknownDType(tensor: String, dtype: String)
    case sizeOverflow(tensor: String)
    case sizeMismatch(tensor: String, expectedBytes: Int, actualBytes: Int)
    case misplacedTensor(tensor: String, expectedStart: Int, start: Int, end: Int)
    case dataLengthMismatch(tensorBytes: Int, dataBytes: Int)
    case missingTensor(String)
    case unsupportedDType(tensor: String, dtype: String, expected: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileTooSmall(let n):
            "file is \(n) bytes, smaller than the 8-byte header length"
        case .headerTooLarge(let n):
            "header length \(n) exceeds the 100000000-byte limit"
        case .headerPastEnd(let h, let f):
            "header length \(h) runs past the end of the \(f)-byte file"
        case .headerNotUTF8:
            "header is not valid UTF-8"
        case .headerNotObject:
            "header does not start with '{' (expected a JSON object)"
        case .headerNotJSON(let m):
            "header is not valid JSON: \(m)"
        case .invalidMetadata(let m):
            "__metadata__ is invalid: \(m)"
        case .invalidEntry(let t, let r):
            "tensor '\(t)': \(r)"
        case .unknownDType(let t, let d):
            "tensor '\(t)': unknown dtype '\(d)'"
        case .sizeOverflow(let t):
            "tensor '\(t)': byte size overflows"
        case .sizeMismatch(let t, let e, let a):
            "tensor '\(t)': data_offsets span \(a) bytes but dtype and shape need \(e)"
        case .misplacedTensor(let t, let e, let s, let end):
            "tensor '\(t)': data_offsets [\(s), \(end)] leave a gap or overlap (expected it to start at \(e))"
        case .dataLengthMismatch(let t, let d):
            "tensors cover \(t) bytes but the data section holds \(d) bytes"
        case .missingTensor(let name):
            "missing tensor '\(name)'"
        case .unsupportedDType(let t, let d, let e):
            "tensor '\(t)' has dtype \(d); expected \(e)"
        case .unreadable(let p, let r):
            "cannot read \(p): \(r)"
        }
    }
}
