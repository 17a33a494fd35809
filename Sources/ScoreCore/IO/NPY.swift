import Foundation

/// Reader and writer for NumPy's `.npy` format (versions 1–3, little-endian,
/// C order), the array format Python users exchange.
public enum NPY {
    public struct Array: Sendable, Equatable {
        public let shape: [Int]
        public let values: [Double]
    }

    public struct FormatError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    private static let magic: [UInt8] = [0x93] + Swift.Array("NUMPY".utf8)

    /// Parses a whole `.npy` file into Float64 values.
    public static func read(_ bytes: [UInt8]) throws(FormatError) -> Array {
        guard bytes.count >= 10, Swift.Array(bytes[0..<6]) == magic else {
            throw FormatError(message: "not a .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerStart: Int, headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case 2, 3:
            guard bytes.count >= 12 else { throw FormatError(message: "truncated .npy header") }
            headerStart = 12
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        default:
            throw FormatError(message: ".npy version \(major) is not supported")
        }
        guard headerStart + headerLength <= bytes.count else { throw FormatError(message: "truncated .npy header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)

        guard let descr = field(header, "descr") else { throw FormatError(message: ".npy header has no 'descr'") }
        let dtype = String(descr.dropFirst().prefix { $0 != "'" && $0 != "\"" })
        if let fortran = field(header, "fortran_order"), fortran.hasPrefix("True") {
            throw FormatError(message: ".npy arrays in Fortran order are not supported")
        }
        guard let shapeText = field(header, "shape"),
              let open = shapeText.firstIndex(of: "("), let close = shapeText.firstIndex(of: ")") else {
            throw FormatError(message: ".npy header has no 'shape'")
        }
        var shape: [Int] = []
        for part in shapeText[shapeText.index(after: open)..<close].split(separator: ",") {
            let s = part.trimmingCharacters(in: .whitespaces)
            if s.isEmpty { continue }
            guard let n = Int(s), n >= 0 else { throw FormatError(message: ".npy shape '\(s)' is not a size") }
            shape.append(n)
        }
        var count = 1
        for n in shape {
            let (p, o) = count.multipliedReportingOverflow(by: n)
            guard !o else { throw FormatError(message: ".npy shape overflows") }
            count = p
        }

        let size: Int
        switch dtype {
        case "<f4", "<i4", "<u4": size = 4
        case "<f8", "<i8", "<u8": size = 8
        case "|u1", "|i1", "<u1", "|b1": size = 1
        default: throw FormatError(message: ".npy dtype '\(dtype)' is not supported (use little-endian float32 or float64)")
        }
        let dataStart = headerStart + headerLength
        let (total, o) = count.multipliedReportingOverflow(by: size)
        guard !o, bytes.count - dataStart == total else {
            throw FormatError(message: ".npy data holds \(bytes.count - dataStart) bytes; shape \(shape) of \(dtype) needs \(total)")
        }
        var values = [Double](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                let at = dataStart + i * size
                switch dtype {
                case "<f4": values[i] = Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
                case "<f8": values[i] = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
                case "<i4": values[i] = Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                case "<u4": values[i] = Double(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                case "<i8": values[i] = Double(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self)))
                case "<u8": values[i] = Double(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
                case "|i1": values[i] = Double(Int8(bitPattern: raw[at]))
                default: values[i] = Double(raw[at])
                }
            }
        }
        return Array(shape: shape, values: values)
    }

    /// The text after `'key':` in a header dict, up to the next top-level comma.
    private static func field(_ header: String, _ key: String) -> String? {
        guard let r = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else { return nil }
        var rest = header[r.upperBound...].drop { $0 == " " }
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        return String(rest)
    }

    /// Encodes Float32 values of the given shape as a version-1 `.npy` file.
    public static func encode(float32 values: [Float], shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        // Pad so the data starts on a 64-byte boundary, ending the header with '\n'.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = magic + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Swift.Array(header.utf8)
        out.reserveCapacity(out.count + 4 * values.count)
        for v in values {
            let bits = v.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { out += $0 }
        }
        return out
    }
}
