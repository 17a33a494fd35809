import Foundation
import ScoreJSON

/// The element types of the Open Inference Protocol (KServe V2). ScoreServe reads every
/// numeric one (a client may send 8-bit pixels as UINT8) and writes FP32, FP64 and INT64.
enum InferenceDatatype: String, CaseIterable, Sendable {
    case BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, FP32, FP64, BYTES

    /// Bytes per element in the binary tensor extension (nil: BYTES, length-prefixed).
    var byteSize: Int? {
        switch self {
        case .BOOL, .UINT8, .INT8: 1
        case .UINT16, .INT16, .FP16: 2
        case .UINT32, .INT32, .FP32: 4
        case .UINT64, .INT64, .FP64: 8
        case .BYTES: nil
        }
    }

    var isNumeric: Bool { self != .BOOL && self != .BYTES }

    /// `count` little-endian elements from `bytes` as Doubles.
    func decode(_ bytes: ArraySlice<UInt8>, count: Int) -> [Double] {
        let size = byteSize!
        var out = [Double](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                let at = i * size
                func u(_ n: Int) -> UInt64 {
                    var v: UInt64 = 0
                    for k in 0..<n { v |= UInt64(raw[at + k]) << (8 * UInt64(k)) }
                    return v
                }
                out[i] = switch self {
                case .UINT8: Double(raw[at])
                case .INT8: Double(Int8(bitPattern: raw[at]))
                case .UINT16: Double(u(2))
                case .INT16: Double(Int16(truncatingIfNeeded: u(2)))
                case .UINT32: Double(u(4))
                case .INT32: Double(Int32(truncatingIfNeeded: u(4)))
                case .UINT64: Double(u(8))
                case .INT64: Double(Int64(bitPattern: u(8)))
                case .FP16: Self.half(UInt16(u(2)))
                case .FP32: Double(Float(bitPattern: UInt32(u(4))))
                case .FP64: Double(bitPattern: u(8))
                case .BOOL, .BYTES: 0
                }
            }
        }
        return out
    }

    /// IEEE binary16 to Double.
    static func half(_ bits: UInt16) -> Double {
        let sign: Double = bits & 0x8000 != 0 ? -1 : 1
        let exponent = Int((bits >> 10) & 0x1f), fraction = Double(bits & 0x3ff)
        switch exponent {
        case 0: return sign * fraction * 0x1p-24
        case 31: return fraction == 0 ? sign * .infinity : .nan
        default: return sign * (1 + fraction / 1024) * Foundation.pow(2, Double(exponent - 15))
        }
    }
}

/// An output tensor of an inference answer, in the types ScoreServe writes.
struct InferenceOutput: Sendable {
    enum Values: Sendable {
        case fp32([Float]), fp64([Double]), int64([Int])
    }
    let name: String
    let shape: [Int]
    let values: Values

    var datatype: InferenceDatatype {
        switch values {
        case .fp32: .FP32
        case .fp64: .FP64
        case .int64: .INT64
        }
    }

    /// The elements as JSON numbers, flat in row-major order.
    var json: JSONValue {
        switch values {
        case .fp32(let v): .array(v.map { .float($0) })
        case .fp64(let v): .array(v.map { .number($0) })
        case .int64(let v): .array(v.map { .integer(Int64($0)) })
        }
    }

    /// The elements as little-endian bytes (the binary tensor extension).
    var bytes: [UInt8] {
        var out: [UInt8] = []
        func append<T: FixedWidthInteger>(_ x: T) {
            withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) }
        }
        switch values {
        case .fp32(let v):
            out.reserveCapacity(4 * v.count)
            for x in v { append(x.bitPattern) }
        case .fp64(let v):
            out.reserveCapacity(8 * v.count)
            for x in v { append(x.bitPattern) }
        case .int64(let v):
            out.reserveCapacity(8 * v.count)
            for x in v { append(Int64(x)) }
        }
        return out
    }
}
