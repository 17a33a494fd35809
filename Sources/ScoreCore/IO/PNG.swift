import CZlib

/// A minimal PNG encoder: 8-bit RGB (colour type 2) or grayscale (colour type 0),
/// not interlaced, compressed with zlib, for plots of samples.
///
/// Each scanline gets the filter (None, Sub or Up) with the smallest sum of absolute
/// filtered bytes, the usual heuristic; decoders undo filters 0–4, so any choice is valid.
/// zlib stays inside this file: no C type appears in the API.
public enum PNG {
    /// The 8 bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// A PNG of `width` × `height` RGB pixels, `rgb` row-major with 3 bytes a pixel.
    /// `text` becomes tEXt chunks (iTXt for non-ASCII values), e.g. `[("Title", "…")]`.
    public static func encode(width: Int, height: Int, rgb: [UInt8],
                              text: [(keyword: String, value: String)] = []) -> [UInt8] {
        precondition(width > 0 && height > 0, "PNG: width and height must be positive")
        precondition(rgb.count == width * height * 3, "PNG: expected \(width * height * 3) RGB bytes, got \(rgb.count)")
        return encode(width: width, height: height, channels: 3, colorType: 2, pixels: rgb, text: text)
    }

    /// A PNG of `width` × `height` grayscale pixels, `gray` row-major with 1 byte a pixel.
    public static func encode(width: Int, height: Int, gray: [UInt8],
                              text: [(keyword: String, value: String)] = []) -> [UInt8] {
        precondition(width > 0 && height > 0, "PNG: width and height must be positive")
        precondition(gray.count == width * height, "PNG: expected \(width * height) gray bytes, got \(gray.count)")
        return encode(width: width, height: height, channels: 1, colorType: 0, pixels: gray, text: text)
    }

    private static func encode(width: Int, height: Int, channels: Int, colorType: UInt8,
                               pixels: [UInt8], text: [(keyword: String, value: String)]) -> [UInt8] {
        precondition(width <= Int(Int32.max) && height <= Int(Int32.max), "PNG: image too large")
        var out = signature
        var ihdr: [UInt8] = []
        appendBigEndian(UInt32(width), to: &ihdr)
        appendBigEndian(UInt32(height), to: &ihdr)
        ihdr += [8, colorType, 0, 0, 0]  // bit depth, colour type, deflate, filter method 0, no interlace
        appendChunk("IHDR", ihdr, to: &out)
        for (keyword, value) in text { appendTextChunk(keyword: keyword, value: value, to: &out) }
        appendChunk("IDAT", deflate(filtered(width: width, height: height, channels: channels, pixels: pixels)), to: &out)
        appendChunk("IEND", [], to: &out)
        return out
    }

    /// The scanlines, each prefixed by its filter type byte (0 None, 1 Sub, 2 Up).
    static func filtered(width: Int, height: Int, channels bpp: Int, pixels: [UInt8]) -> [UInt8] {
        let stride = width * bpp
        var out = [UInt8]()
        out.reserveCapacity((stride + 1) * height)
        var sub = [UInt8](repeating: 0, count: stride)
        var up = [UInt8](repeating: 0, count: stride)
        pixels.withUnsafeBufferPointer { p in
            for y in 0..<height {
                let row = y * stride
                var costNone = 0, costSub = 0, costUp = 0
                for i in 0..<stride {
                    let v = p[row + i]
                    let left: UInt8 = i >= bpp ? p[row + i - bpp] : 0
                    let above: UInt8 = y > 0 ? p[row - stride + i] : 0
                    sub[i] = v &- left
                    up[i] = v &- above
                    // Bytes read as signed: small magnitudes compress best.
                    costNone += Int(min(v, 0 &- v))
                    costSub += Int(min(sub[i], 0 &- sub[i]))
                    costUp += Int(min(up[i], 0 &- up[i]))
                }
                if costNone <= costSub && costNone <= costUp {
                    out.append(0)
                    out += p[row..<(row + stride)]
                } else if costSub <= costUp {
                    out.append(1)
                    out += sub
                } else {
                    out.append(2)
                    out += up
                }
            }
        }
        return out
    }

    /// zlib-wrapped deflate stream of `bytes` (level 6).
    static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        var capacity = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(capacity))
        let status = out.withUnsafeMutableBufferPointer { dst in
            bytes.withUnsafeBufferPointer { src in
                compress2(dst.baseAddress, &capacity, src.baseAddress, uLong(src.count), 6)
            }
        }
        precondition(status == Z_OK, "PNG: zlib compress2 failed with status \(status)")
        out.removeSubrange(Int(capacity)...)
        return out
    }

    /// CRC-32 (ISO 3309, as PNG chunks use) of `bytes`, by zlib.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc = CZlib.crc32(0, nil, 0)
        bytes.withUnsafeBufferPointer { p in
            var offset = 0
            while offset < p.count {  // crc32 takes a uInt length: feed it in pieces
                let n = min(p.count - offset, 1 << 30)
                crc = CZlib.crc32(crc, p.baseAddress! + offset, uInt(n))
                offset += n
            }
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    private static func appendChunk(_ type: String, _ data: [UInt8], to out: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        precondition(typeBytes.count == 4)
        precondition(data.count <= Int(Int32.max), "PNG: chunk too large")
        appendBigEndian(UInt32(data.count), to: &out)
        let body = typeBytes + data
        out += body
        appendBigEndian(crc32(body), to: &out)
    }

    /// tEXt (Latin-1, here ASCII only) or, for other text, uncompressed iTXt (UTF-8).
    private static func appendTextChunk(keyword: String, value: String, to out: inout [UInt8]) {
        // Keywords are 1–79 printable Latin-1 characters; keep printable ASCII.
        var key = Array(keyword.utf8.filter { $0 >= 0x20 && $0 < 0x7F }.prefix(79))
        if key.isEmpty { key = Array("Comment".utf8) }
        let utf8 = Array(value.utf8).filter { $0 != 0 }
        if utf8.allSatisfy({ $0 < 0x80 }) {
            appendChunk("tEXt", key + [0] + utf8, to: &out)
        } else {
            // keyword, NUL, compression flag 0, method 0, empty language tag and translated keyword.
            appendChunk("iTXt", key + [0, 0, 0, 0, 0] + utf8, to: &out)
        }
    }

    private static func appendBigEndian(_ v: UInt32, to out: inout [UInt8]) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}
