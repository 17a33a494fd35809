import Foundation
import ScoreJSON

/// A parsed safetensors file: an 8-byte little-endian header length, a JSON header,
/// then the tensors' bytes. Validation follows the reference implementation
/// (huggingface/safetensors `read_metadata` and `Metadata::validate`).
public struct SafeTensors: Sendable {
    /// Element types the format defines.
    public enum DType: String, Sendable, CaseIterable {
        case BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64

        /// Bytes per element.
        public var size: Int {
            switch self {
            case .BOOL, .U8, .I8, .F8_E5M2, .F8_E4M3: 1
            case .I16, .U16, .F16, .BF16: 2
            case .I32, .U32, .F32: 4
            case .F64, .I64, .U64: 8
            }
        }
    }

    /// One tensor's header entry.
    public struct TensorInfo: Sendable, Equatable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range within the data section.
        public let offsets: Range<Int>

        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// Largest header the reference accepts.
    public static let maxHeaderBytes: UInt64 = 100_000_000

    /// Tensors in order of name.
    public let tensors: [TensorInfo]
    /// The free-form `__metadata__` string map.
    public let metadata: [String: String]
    /// The whole file (not a copy of its data section: loading a large file keeps one
    /// buffer); tensor offsets count from `dataStart`.
    private let data: [UInt8]
    private let dataStart: Int
    private let index: [String: Int]

    /// Reads and validates a file, straight into one buffer (no second copy of a large
    /// file is alive at once: loading peaks at the file plus the network's weights).
    public static func load(path: String) throws(SafeTensorsError) -> SafeTensors {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .unreadable(path: path, reason: "no such file or not readable") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw .unreadable(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let n = read(fd, buffer.baseAddress! + count, size - count)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    failure = n == 0 ? "the file shrank while it was read" : String(cString: strerror(errno))
                    return
                }
                count += n
            }
        }
        if let failure { throw .unreadable(path: path, reason: failure) }
        return try SafeTensors(bytes: bytes)
    }

    /// Parses and validates the bytes of a whole file.
    public init(bytes: [UInt8]) throws(SafeTensorsError) {
        guard bytes.count >= 8 else { throw .fileTooSmall(bytes: bytes.count) }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= SafeTensors.maxHeaderBytes else { throw .headerTooLarge(bytes: n) }
        let headerEnd = 8 + Int(n)  // n ≤ 1e8, so this cannot overflow
        guard headerEnd <= bytes.count else { throw .headerPastEnd(headerBytes: n, fileBytes: bytes.count) }
        let header = bytes[8..<headerEnd]
        guard String(validating: header, as: UTF8.self) != nil else { throw .headerNotUTF8 }
        guard header.first == UInt8(ascii: "{") else { throw .headerNotObject }

        let root: JSONValue
        do { root = try JSONValue.parse(Array(header)) } catch { throw .headerNotJSON(error.description) }
        guard case .object(let object) = root else { throw .headerNotObject }

        var metadata: [String: String] = [:]
        var infos: [TensorInfo] = []
        for (name, value) in object.pairs {
            if name == "__metadata__" {
                metadata = try SafeTensors.parseMetadata(value)
            } else {
                infos.append(try SafeTensors.parseEntry(name: name, value))
            }
        }

        // Sorted by offset, the tensors must tile the data section from 0 exactly.
        let byOffset = infos.sorted {
            ($0.offsets.lowerBound, $0.offsets.upperBound, $0.name)
                < ($1.offsets.lowerBound, $1.offsets.upperBound, $1.name)
        }
        var cursor = 0
        for info in byOffset {
            guard info.offsets.lowerBound == cursor else {
                throw .misplacedTensor(tensor: info.name, expectedStart: cursor,
                                       start: info.offsets.lowerBound, end: info.offsets.upperBound)
            }
            var elements = 1
            for d in info.shape {
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                guard !o else { throw .sizeOverflow(tensor: info.name) }
                elements = p
            }
            let (nbytes, o) = elements.multipliedReportingOverflow(by: info.dtype.size)
            guard !o else { throw .sizeOverflow(tensor: info.name) }
            guard nbytes == info.offsets.count else {
                throw .sizeMismatch(tensor: info.name, expectedBytes: nbytes, actualBytes: info.offsets.count)
            }
            cursor = info.offsets.upperBound
        }
        let dataBytes = bytes.count - headerEnd
        guard cursor == dataBytes else { throw .dataLengthMismatch(tensorBytes: cursor, dataBytes: dataBytes) }

        self.tensors = infos.sorted { $0.name < $1.name }
        self.metadata = metadata
        self.data = bytes
        self.dataStart = headerEnd
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    private static func parseMetadata(_ value: JSONValue) throws(SafeTensorsError) -> [String: String] {
        if value == .null { return [:] }  // the reference's Option<HashMap> reads null as absent
        guard case .object(let object) = value else {
            throw .invalidMetadata("expected an object of strings, got \(value.typeName)")
        }
        var out: [String: String] = [:]
        for (k, v) in object.pairs {
            guard case .string(let s) = v else {
                throw .invalidMetadata("key '\(k)': expected a string, got \(v.typeName)")
            }
            out[k] = s
        }
        return out
    }

    private static func parseEntry(name: String, _ value: JSONValue) throws(SafeTensorsError) -> TensorInfo {
        guard case .object(let entry) = value else {
            throw .invalidEntry(tensor: name, reason: "expected an object, got \(value.typeName)")
        }
        guard case .string(let dtypeName)? = entry["dtype"] else {
            throw .invalidEntry(tensor: name, reason: "'dtype' must be a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw .unknownDType(tensor: name, dtype: dtypeName)
        }
        guard case .array(let shapeValues)? = entry["shape"] else {
            throw .invalidEntry(tensor: name, reason: "'shape' must be an array of non-negative integers")
        }
        var shape: [Int] = []
        for v in shapeValues {
            guard case .integer(let d) = v, d >= 0 else {
                throw .invalidEntry(tensor: name, reason: "'shape' must be an array of non-negative integers")
            }
            shape.append(Int(d))
        }
        guard case .array(let offsetValues)? = entry["data_offsets"], offsetValues.count == 2,
              case .integer(let begin) = offsetValues[0], case .integer(let end) = offsetValues[1],
              begin >= 0, end >= 0
        else {
            throw .invalidEntry(tensor: name, reason: "'data_offsets' must be two non-negative integers [begin, end]")
        }
        guard end >= begin else {
            throw .invalidEntry(tensor: name, reason: "'data_offsets' end \(end) is before begin \(begin)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, offsets: Int(begin)..<Int(end))
    }

    /// The header entry of a tensor, if present.
    public func info(_ name: String) -> TensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The values of a floating-point tensor (F32, F16, BF16 or F64, little-endian on
    /// disk) as Float32: F16 and BF16 widen exactly, F64 rounds to nearest.
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
        guard let info = info(name) else { throw .missingTensor(name) }
        let count = info.elementCount, start = dataStart + info.offsets.lowerBound
        func convert(_ body: (UnsafeRawBufferPointer, Int) -> Float) -> [Float] {
            [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                data.withUnsafeBytes { raw in
                    for i in 0..<count { buffer[i] = body(raw, i) }
                }
                initialized = count
            }
        }
        switch info.dtype {
        case .F32:
            return convert { raw, i in
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self)))
            }
        case .F16:
            return convert { raw, i in
                Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: start + 2 * i, as: UInt16.self))))
            }
        case .BF16:
            // bfloat16 is the high half of a float32.
            return convert { raw, i in
                Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: start + 2 * i, as: UInt16.self))) << 16)
            }
        case .F64:
            return convert { raw, i in
                Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self))))
            }
        default:
            throw .unsupportedDType(tensor: name, dtype: info.dtype.rawValue, expected: "F32, F16, BF16 or F64")
        }
    }
}
