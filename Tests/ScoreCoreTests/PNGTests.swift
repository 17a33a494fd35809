import Foundation
import Testing
import ScoreCore
import ScoreJSON

// MARK: Independent PNG reading (no zlib): chunks, CRCs and a Python decoder

/// CRC-32 as PNG defines it (reflected polynomial 0xEDB88320), written here so the
/// chunk check does not rely on zlib, which the encoder uses.
private func referenceCRC32(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

private struct Chunk {
    var type: String
    var data: [UInt8]
    var crcValid: Bool
}

private func bigEndian(_ b: [UInt8], _ at: Int) -> UInt32 {
    UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
}

/// Splits a PNG into its chunks (after checking the signature), recomputing each CRC.
private func chunks(_ png: [UInt8]) -> [Chunk]? {
    guard png.count >= 8, Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { return nil }
    var out: [Chunk] = []
    var pos = 8
    while pos + 12 <= png.count {
        let length = Int(bigEndian(png, pos))
        guard pos + 12 + length <= png.count else { return nil }
        let body = png[(pos + 4)..<(pos + 8 + length)]
        let type = String(decoding: png[(pos + 4)..<(pos + 8)], as: UTF8.self)
        let crc = bigEndian(png, pos + 8 + length)
        out.append(Chunk(type: type, data: Array(png[(pos + 8)..<(pos + 8 + length)]), crcValid: crc == referenceCRC32(body)))
        pos += 12 + length
    }
    return pos == png.count ? out : nil
}

/// A stdlib-only PNG decoder (8-bit gray or RGB, filters 0–4): prints
/// "width height colortype", the filter types used, and the pixel bytes.
private let pythonDecoder = #"""
import sys, zlib, struct
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'signature'
pos, idat, ihdr = 8, b'', None
while pos < len(data):
    n, = struct.unpack('>I', data[pos:pos + 4])
    kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
    pos += 12 + n
    if kind == b'IHDR': ihdr = struct.unpack('>IIBBBBB', body)
    elif kind == b'IDAT': idat += body
    elif kind == b'IEND': break
w, h, depth, ct = ihdr[:4]
assert depth == 8 and ihdr[6] == 0
bpp = {0: 1, 2: 3}[ct]
raw = zlib.decompress(idat)
stride = w * bpp
assert len(raw) == h * (stride + 1), 'IDAT size'
out, prev, filters = bytearray(), bytearray(stride), set()
for y in range(h):
    f = raw[y * (stride + 1)]
    filters.add(f)
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        else: assert f == 0, 'filter type'
    out += line
    prev = line
print(w, h, ct)
print(' '.join(map(str, sorted(filters))))
print(' '.join(map(str, out)))
"""#

private struct Decoded {
    var width: Int, height: Int, colorType: Int
    var filters: Set<Int>
    var pixels: [UInt8]
}

/// `python3` on the PATH, if any.
private let python3: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    .split(separator: ":").map { "\($0)/python3" }
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// Decodes `png` with Python's zlib, or nil when python3 is missing (callers then
/// skip the round trip: the chunk and CRC checks above still run).
private func decodeWithPython(_ png: [UInt8]) throws -> Decoded? {
    guard let python3 else { return nil }
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("image.png")
    try Data(png).write(to: file)
    let (status, stdout, stderr) = try runProcess(URL(fileURLWithPath: python3), ["-c", pythonDecoder, file.path])
    guard status == 0 else {
        Issue.record("python decoder failed: \(stderr)")
        return nil
    }
    let lines = stdout.split(separator: "\n", omittingEmptySubsequences: false)
    let header = lines[0].split(separator: " ").compactMap { Int($0) }
    return Decoded(width: header[0], height: header[1], colorType: header[2],
                   filters: Set(lines[1].split(separator: " ").compactMap { Int($0) }),
                   pixels: lines[2].split(separator: " ").compactMap { UInt8($0) })
}

/// Checks signature, chunk order and CRCs, and IHDR; returns the chunks.
@discardableResult
private func checkStructure(_ png: [UInt8], width: Int, height: Int, colorType: UInt8,
                            sourceLocation: SourceLocation = #_sourceLocation) -> [Chunk] {
    guard let list = chunks(png) else {
        Issue.record("not a well-formed chunk sequence", sourceLocation: sourceLocation)
        return []
    }
    #expect(list.first?.type == "IHDR", sourceLocation: sourceLocation)
    #expect(list.last?.type == "IEND" && list.last?.data.isEmpty == true, sourceLocation: sourceLocation)
    #expect(list.contains { $0.type == "IDAT" }, sourceLocation: sourceLocation)
    for chunk in list { #expect(chunk.crcValid, "CRC of \(chunk.type)", sourceLocation: sourceLocation) }
    if let ihdr = list.first, ihdr.type == "IHDR" {
        #expect(ihdr.data.count == 13, sourceLocation: sourceLocation)
        #expect(Int(bigEndian(ihdr.data, 0)) == width, sourceLocation: sourceLocation)
        #expect(Int(bigEndian(ihdr.data, 4)) == height, sourceLocation: sourceLocation)
        // bit depth 8, colour type, compression 0, filter method 0, no interlace
        #expect(Array(ihdr.data[8..<13]) == [8, colorType, 0, 0, 0], sourceLocation: sourceLocation)
    }
    return list
}

private func isReddish(_ c: Canvas.Color) -> Bool { Int(c.r) > Int(c.g) + 60 && Int(c.r) > Int(c.b) + 60 }
private func isBluish(_ c: Canvas.Color) -> Bool { Int(c.b) > Int(c.r) + 30 }

@Suite("PNG and plots")
struct PNGTests {
    @Test("CRC-32 matches the check value and the independent implementation")
    func crc() {
        #expect(PNG.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        var rng = SplitMix64(seed: 3)
        let bytes = (0..<1000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        #expect(PNG.crc32(bytes) == referenceCRC32(bytes))
        #expect(PNG.crc32([]) == 0)
    }

    @Test("RGB: signature, IHDR, valid CRCs, and pixels round-trip through an independent decoder")
    func rgbRoundTrip() throws {
        let (w, h) = (37, 23)
        var rng = SplitMix64(seed: 11)
        let pattern = (0..<(w * 3)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        // Rows of one value (the Sub filter wins), then repeated random rows (Up wins).
        var rgb: [UInt8] = []
        for y in 0..<h {
            rgb += y < h / 2 ? [UInt8](repeating: UInt8(y * 9), count: w * 3) : pattern
        }
        let png = PNG.encode(width: w, height: h, rgb: rgb, text: [("Title", "round trip")])
        #expect(Array(png.prefix(8)) == PNG.signature)
        let list = checkStructure(png, width: w, height: h, colorType: 2)
        let text = list.first { $0.type == "tEXt" }
        #expect(text.map { String(decoding: $0.data, as: UTF8.self) } == "Title\u{0}round trip")
        // Without python3 the round trip is skipped; structure and CRCs are checked above.
        guard let decoded = try decodeWithPython(png) else { return }
        #expect(decoded.width == w && decoded.height == h && decoded.colorType == 2)
        #expect(decoded.pixels == rgb)
        #expect(decoded.filters.contains(1) && decoded.filters.contains(2), "filters used: \(decoded.filters)")
    }

    @Test("Grayscale: colour type 0 and a random image round-trips")
    func grayRoundTrip() throws {
        let (w, h) = (1, 1)
        let one = PNG.encode(width: w, height: h, gray: [200])
        checkStructure(one, width: 1, height: 1, colorType: 0)
        var rng = SplitMix64(seed: 5)
        let gray = (0..<(50 * 31)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let png = PNG.encode(width: 50, height: 31, gray: gray)
        checkStructure(png, width: 50, height: 31, colorType: 0)
        // Skipped without python3 (see decodeWithPython).
        if let decoded = try decodeWithPython(one) { #expect(decoded.pixels == [200]) }
        if let decoded = try decodeWithPython(png) {
            #expect(decoded.width == 50 && decoded.height == 31 && decoded.colorType == 0)
            #expect(decoded.pixels == gray)
        }
    }

    @Test("A non-ASCII title goes into an iTXt chunk as UTF-8")
    func unicodeTitle() {
        let png = PNG.encode(width: 2, height: 1, gray: [0, 255], text: [("Title", "σ-ring · 8 modes")])
        let list = checkStructure(png, width: 2, height: 1, colorType: 0)
        let itxt = list.first { $0.type == "iTXt" }
        #expect(itxt.map { Array($0.data) } == Array("Title".utf8) + [0, 0, 0, 0, 0] + Array("σ-ring · 8 modes".utf8))
    }

    @Test("Canvas: white background, alpha blending, filled circles")
    func canvas() {
        var c = Canvas(width: 20, height: 10)
        #expect(c.pixels.count == 600 && c.pixels.allSatisfy { $0 == 255 })
        c.blend(x: 1, y: 1, color: .black, alpha: 0.5)
        #expect(c[1, 1] == Canvas.Color(128, 128, 128))
        c.blend(x: 1, y: 1, color: .black, alpha: 1)
        #expect(c[1, 1] == .black)
        c.blend(x: -1, y: 100, color: .black, alpha: 1)  // outside: ignored
        c.fillCircle(cx: 10, cy: 5, radius: 2, color: Canvas.Color(0, 0, 255))
        #expect(c[9, 4] == Canvas.Color(0, 0, 255) && c[10, 5] == Canvas.Color(0, 0, 255))
        #expect(c[15, 5] == .white && c[10, 0] == .white)
        c.fillCircle(cx: 3, cy: 5, radius: 3, color: .black, clip: (x: 3, y: 0, width: 10, height: 10))
        #expect(c[2, 5] == .white && c[3, 5] == .black)
    }

    @Test("Scatter: samples land where the panel maps them, data behind, frame around, outliers do not squash")
    func scatter() throws {
        var samples: [Float] = []
        var rng = SplitMix64(seed: 9)
        for _ in 0..<999 {
            samples += [Float(rng.below(2001)) / 1000 - 1, Float(rng.below(2001)) / 1000 - 1]
        }
        samples += [1e6, -1e6]  // one outlier
        let data: [Float] = [0.5, 0.5, -0.5, -0.5]
        let marks: [Float] = [0.9, -0.9, -0.9, 0.9]
        let (canvas, panel) = Plot.scatterCanvas(samples: marks + samples, data: data, width: 200, height: 160)
        #expect(canvas.width == 200 && canvas.height == 160)
        // Robust range: about −1…1 plus margins, not ±10⁶.
        #expect(panel.xRange.upperBound < 2 && panel.xRange.lowerBound > -2)
        #expect(panel.yRange.upperBound < 2 && panel.yRange.lowerBound > -2)
        // Equal scale on both axes: the square cloud stays square.
        let xScale = (panel.xRange.upperBound - panel.xRange.lowerBound) / Double(panel.width)
        let yScale = (panel.yRange.upperBound - panel.yRange.lowerBound) / Double(panel.height)
        #expect(abs(xScale - yScale) < 1e-9)
        for i in 0..<2 {
            let p = panel.pixel(Double(marks[2 * i]), Double(marks[2 * i + 1]))
            #expect(isReddish(canvas[Int(p.x), Int(p.y)]), "sample \(i) at \(p): \(canvas[Int(p.x), Int(p.y)])")
        }
        // y grows upwards: (0.9, −0.9) is right and low.
        let low = panel.pixel(0.9, -0.9)
        #expect(low.x > Double(canvas.width) / 2 && low.y > Double(canvas.height) / 2)
        // The frame surrounds the panel; the corner of the canvas stays white.
        #expect(canvas[panel.x - 1, panel.y + 5] == .frame)
        #expect(canvas[0, 0] == .white)

        // Data alone: light blue points at the data positions, white elsewhere.
        let (only, dataPanel) = Plot.scatterCanvas(samples: [], data: [-2, -1, 2, 1, 0.5, 0.25], width: 120, height: 120)
        let q = dataPanel.pixel(0.5, 0.25)
        #expect(isBluish(only[Int(q.x), Int(q.y)]))
        let empty = dataPanel.pixel(-1.5, 0.9)
        #expect(only[Int(empty.x), Int(empty.y)] == .white)

        // The PNG holds exactly the canvas's pixels.
        let png = Plot.scatter(samples: marks + samples, data: data, width: 200, height: 160, title: "test")
        checkStructure(png, width: 200, height: 160, colorType: 2)
        if let decoded = try decodeWithPython(png) { #expect(decoded.pixels == canvas.pixels) }
    }

    @Test("Side by side: two panels on the same axes, samples left, data right")
    func sideBySide() {
        let left: [Float] = [1, 1, -1, -1]
        let right: [Float] = [2, 0.5, 0.5, 2]
        let (canvas, panels) = Plot.sideBySideCanvas(left: left, right: right, width: 300, height: 140)
        #expect(canvas.width == 300 && canvas.height == 140)
        #expect(panels.0.xRange == panels.1.xRange && panels.0.yRange == panels.1.yRange)
        #expect(panels.0.x + panels.0.width < panels.1.x)
        let a = panels.0.pixel(1, 1), b = panels.1.pixel(2, 0.5)
        #expect(isReddish(canvas[Int(a.x), Int(a.y)]))
        #expect(isBluish(canvas[Int(b.x), Int(b.y)]))
        // Nothing of the data on the left, nothing of the samples on the right.
        let aEmpty = panels.0.pixel(2, 0.5), bEmpty = panels.1.pixel(1, 1)
        #expect(canvas[Int(aEmpty.x), Int(aEmpty.y)] == .white && canvas[Int(bEmpty.x), Int(bEmpty.y)] == .white)
        checkStructure(Plot.sideBySide(left: left, right: right, width: 300, height: 140), width: 300, height: 140, colorType: 2)
    }

    @Test("Grid of three 2×2 gray images: size, values, 1-pixel gaps")
    func grayGrid() throws {
        let images: [Float] = [0, 1, 2, 3,  3, 2, 1, 0,  -5, 10, 1.5, .nan]
        let raster = Plot.gridRaster(images: images, shape: [2, 2], columns: 3, scale: 1, range: 0...3)
        #expect(raster.width == 3 * 2 + 2 && raster.height == 2 && raster.channels == 1)
        let expected: [UInt8] = [
            0, 85, 255, 255, 170, 255, 0, 255,
            170, 255, 255, 85, 0, 255, 128, 0,
        ]
        #expect(raster.pixels == expected)
        let png = Plot.grid(images: images, shape: [2, 2], columns: 3, scale: 1, range: 0...3)
        checkStructure(png, width: 8, height: 2, colorType: 0)
        if let decoded = try decodeWithPython(png) { #expect(decoded.pixels == expected) }

        // Two columns: the third image starts a second row; the empty cell stays white.
        let wrapped = Plot.gridRaster(images: images, shape: [1, 2, 2], columns: 2, scale: 2, range: 0...3)
        #expect(wrapped.width == 2 * 4 + 1 && wrapped.height == 2 * 4 + 1)
        #expect(wrapped[0, 0, 0] == 0 && wrapped[1, 1, 0] == 0 && wrapped[2, 0, 0] == 85 && wrapped[3, 1, 0] == 85)
        #expect(wrapped[4, 0, 0] == 255)  // the gap
        #expect(wrapped[5, 0, 0] == 255 && wrapped[7, 3, 0] == 0)  // second image: 3 → 255, 0 → 0
        #expect(wrapped[0, 5, 0] == 0 && wrapped[2, 5, 0] == 255)  // third image
        #expect(wrapped[6, 6, 0] == 255)  // no fourth image
    }

    @Test("Grid of RGB images is an RGB PNG with channels from the C×H×W layout")
    func rgbGrid() throws {
        // One 3×1×2 image: red channel [1, 0], green [0, 1], blue [1, 1].
        let image: [Float] = [1, 0, 0, 1, 1, 1]
        let raster = Plot.gridRaster(images: image, shape: [3, 1, 2], columns: 4, scale: 1, range: 0...1)
        #expect(raster.width == 2 && raster.height == 1 && raster.channels == 3)
        #expect(raster.pixels == [255, 0, 255, 0, 255, 255])
        let png = Plot.grid(images: image, shape: [3, 1, 2], columns: 4, scale: 3, range: 0...1)
        checkStructure(png, width: 6, height: 3, colorType: 2)
        if let decoded = try decodeWithPython(png) {
            #expect(decoded.pixels.count == 6 * 3 * 3)
            #expect(Array(decoded.pixels[0..<3]) == [255, 0, 255] && Array(decoded.pixels[15..<18]) == [0, 255, 255])
        }
    }

    @Test("scoreserve plot: a sample answer makes a scatter plot, an .npy of images a grid, bad input an error")
    func plotCommand() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let answer = #"{"model":"m","n":3,"seed":1,"shape":[2],"samples":[[0,1],[1,0],[-1,-1]],"nfe":[1,1,1]}"#
        let json = dir.appendingPathComponent("s.json")
        try Data(answer.utf8).write(to: json)
        var r = try runCLI(["plot", "--samples", json.path, "--title", "t"])
        #expect(r.status == 0, "\(r.stderr)")
        let scatter = [UInt8](try Data(contentsOf: dir.appendingPathComponent("s.png")))
        checkStructure(scatter, width: 640, height: 640, colorType: 2)

        let csv = dir.appendingPathComponent("d.csv")
        try Data("x,y\n0,0\n1,1\n".utf8).write(to: csv)
        let side = dir.appendingPathComponent("side.png")
        r = try runCLI(["plot", "--samples", json.path, "--data", csv.path, "--side-by-side", "--output", side.path])
        #expect(r.status == 0, "\(r.stderr)")
        checkStructure([UInt8](try Data(contentsOf: side)), width: 1280, height: 640, colorType: 2)

        let npy = dir.appendingPathComponent("digits.npy")
        try Data(NPY.encode(float32: (0..<(5 * 64)).map { Float($0 % 17) }, shape: [5, 8, 8])).write(to: npy)
        let gridPath = dir.appendingPathComponent("grid.png")
        r = try runCLI(["plot", "--samples", npy.path, "--output", gridPath.path, "--range", "0,16"])
        #expect(r.status == 0, "\(r.stderr)")
        checkStructure([UInt8](try Data(contentsOf: gridPath)), width: 5 * 32 + 4, height: 32, colorType: 0)

        let flat = dir.appendingPathComponent("flat.json")
        try Data("[[1,2,3,4,5],[5,4,3,2,1]]".utf8).write(to: flat)
        r = try runCLI(["plot", "--samples", flat.path])
        #expect(r.status != 0 && r.stderr.contains("--shape"), "\(r.stderr)")
        r = try runCLI(["plot", "--samples", flat.path, "--shape", "1,5", "--output", gridPath.path, "--scale", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        checkStructure([UInt8](try Data(contentsOf: gridPath)), width: 2 * 5 + 1, height: 1, colorType: 0)
    }
}
