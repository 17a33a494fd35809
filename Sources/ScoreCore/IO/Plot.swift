extension Canvas {
    /// An 8-bit RGB colour.
    public struct Color: Sendable, Equatable, Hashable, CustomStringConvertible {
        public var r: UInt8, g: UInt8, b: UInt8
        public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

        public static let white = Color(255, 255, 255)
        public static let black = Color(0, 0, 0)
        /// Frames around plot panels.
        public static let frame = Color(110, 110, 110)
        /// The x = 0 and y = 0 lines behind the points.
        public static let axis = Color(225, 225, 225)
        /// Samples, drawn on top (a strong red).
        public static let sample = Color(214, 39, 40)
        /// Reference data behind the samples (light grey-blue).
        public static let referenceLight = Color(150, 172, 200)
        /// Reference data in a panel of its own (a strong blue).
        public static let reference = Color(31, 119, 180)

        public var description: String { "rgb(\(r), \(g), \(b))" }
    }
}

/// An RGB raster, row-major from the top-left corner, on a white background.
public struct Canvas: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width × height × 3` bytes: R, G, B of each pixel, rows from the top.
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: Color = .white) {
        precondition(width > 0 && height > 0, "Canvas: width and height must be positive")
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = background.r; pixels[3 * i + 1] = background.g; pixels[3 * i + 2] = background.b
        }
    }

    /// The colour at column `x`, row `y` (from the top).
    public subscript(x: Int, y: Int) -> Color {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "Canvas: (\(x), \(y)) is outside")
            let i = 3 * (y * width + x)
            return Color(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "Canvas: (\(x), \(y)) is outside")
            let i = 3 * (y * width + x)
            pixels[i] = newValue.r; pixels[i + 1] = newValue.g; pixels[i + 2] = newValue.b
        }
    }

    /// Paints `color` over pixel (x, y) with opacity `alpha` in [0, 1]; pixels outside are ignored.
    public mutating func blend(x: Int, y: Int, color: Color, alpha: Double) {
        guard x >= 0 && x < width && y >= 0 && y < height, alpha > 0 else { return }
        let a = min(alpha, 1)
        let i = 3 * (y * width + x)
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 {
            UInt8((Double(old) * (1 - a) + Double(new) * a).rounded())
        }
        pixels[i] = mix(pixels[i], color.r)
        pixels[i + 1] = mix(pixels[i + 1], color.g)
        pixels[i + 2] = mix(pixels[i + 2], color.b)
    }

    /// A filled disc centred at (`cx`, `cy`) in pixel coordinates (pixel (i, j) covers
    /// [i, i+1) × [j, j+1)), anti-aliased at its edge, blended with opacity `alpha`.
    /// Only pixels inside `clip` (x, y, width, height), when given, are painted.
    public mutating func fillCircle(cx: Double, cy: Double, radius: Double, color: Color, alpha: Double = 1,
                                    clip: (x: Int, y: Int, width: Int, height: Int)? = nil) {
        guard cx.isFinite, cy.isFinite, radius > 0,
              cx + radius + 1 >= 0, cx - radius - 1 <= Double(width),
              cy + radius + 1 >= 0, cy - radius - 1 <= Double(height) else { return }
        var x0 = max(0, Int((cx - radius - 1).rounded(.down))), x1 = min(width - 1, Int((cx + radius + 1).rounded(.up)))
        var y0 = max(0, Int((cy - radius - 1).rounded(.down))), y1 = min(height - 1, Int((cy + radius + 1).rounded(.up)))
        if let clip {
            x0 = max(x0, clip.x); x1 = min(x1, clip.x + clip.width - 1)
            y0 = max(y0, clip.y); y1 = min(y1, clip.y + clip.height - 1)
        }
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            let dy = Double(y) + 0.5 - cy
            for x in x0...x1 {
                let dx = Double(x) + 0.5 - cx
                let coverage = min(1, max(0, radius + 0.5 - (dx * dx + dy * dy).squareRoot()))
                if coverage > 0 { blend(x: x, y: y, color: color, alpha: alpha * coverage) }
            }
        }
    }

    /// Fills the rectangle of pixels x..<x+width, y..<y+height (clipped to the canvas).
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, color: Color) {
        let xs = max(0, x)..<min(width, x + w), ys = max(0, y)..<min(height, y + h)
        guard !xs.isEmpty, !ys.isEmpty else { return }
        for yy in ys { for xx in xs { self[xx, yy] = color } }
    }

    /// A one-pixel outline of the rectangle x..<x+width, y..<y+height.
    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, color: Color) {
        guard w > 0, h > 0 else { return }
        fillRect(x: x, y: y, width: w, height: 1, color: color)
        fillRect(x: x, y: y + h - 1, width: w, height: 1, color: color)
        fillRect(x: x, y: y, width: 1, height: h, color: color)
        fillRect(x: x + w - 1, y: y, width: 1, height: h, color: color)
    }

    /// Copies `other` with its top-left corner at (x, y), clipped to this canvas.
    public mutating func draw(_ other: Canvas, x: Int, y: Int) {
        for oy in 0..<other.height where y + oy >= 0 && y + oy < height {
            for ox in 0..<other.width where x + ox >= 0 && x + ox < width {
                self[x + ox, y + oy] = other[ox, oy]
            }
        }
    }

    /// The canvas as PNG bytes (RGB); `title`, when given, goes into a tEXt chunk.
    public func png(title: String? = nil) -> [UInt8] {
        PNG.encode(width: width, height: height, rgb: pixels, text: title.map { [("Title", $0)] } ?? [])
    }
}

/// Rasterised plots of samples as PNG files: 2-D scatter plots and image grids.
///
/// There is no text in the pictures (no fonts); a title goes into the PNG's metadata.
public enum Plot {
    /// One scatter panel: where it sits on its canvas and the data-space ranges it shows.
    public struct Panel: Sendable, Equatable {
        /// The inside of the frame, in pixels: x..<x+width, y..<y+height.
        public var x: Int, y: Int, width: Int, height: Int
        /// The data-space ranges across the inside of the frame (y grows upwards).
        public var xRange: ClosedRange<Double>, yRange: ClosedRange<Double>

        /// Where the data-space point (`px`, `py`) falls, in pixel coordinates.
        public func pixel(_ px: Double, _ py: Double) -> (x: Double, y: Double) {
            let u = (px - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound)
            let v = (py - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound)
            return (Double(x) + u * Double(width), Double(y) + (1 - v) * Double(height))
        }
    }

    /// Radius of a scatter point in pixels.
    public static let pointRadius = 1.5

    /// The axis ranges for 2-D point clouds (n×2 each): per axis the 0.5th to 99.5th
    /// percentile of all finite points together, widened by 5% on each side, so a few
    /// outliers do not squash the plot. Ranges of zero width get a little room.
    public static func ranges(_ clouds: [[Float]]) -> (x: ClosedRange<Double>, y: ClosedRange<Double>) {
        var xs: [Double] = [], ys: [Double] = []
        for cloud in clouds {
            for r in 0..<(cloud.count / 2) where cloud[2 * r].isFinite && cloud[2 * r + 1].isFinite {
                xs.append(Double(cloud[2 * r])); ys.append(Double(cloud[2 * r + 1]))
            }
        }
        func range(_ values: [Double]) -> ClosedRange<Double> {
            guard !values.isEmpty else { return -1...1 }
            let sorted = values.sorted()
            var lo = percentile(sorted, 0.005), hi = percentile(sorted, 0.995)
            let margin = 0.05 * (hi - lo)
            lo -= margin; hi += margin
            if !(hi - lo > 1e-9 * max(1, abs(lo), abs(hi))) {
                let pad = 0.1 * max(1, abs(lo))
                lo -= pad; hi += pad
            }
            return lo...hi
        }
        return (range(xs), range(ys))
    }

    /// Linear interpolation between order statistics (`sorted` non-empty, q in [0, 1]).
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let position = q * Double(sorted.count - 1)
        let i = Int(position.rounded(.down)), frac = position - Double(i)
        return i + 1 < sorted.count ? sorted[i] + frac * (sorted[i + 1] - sorted[i]) : sorted[i]
    }

    /// The panel filling a `width` × `height` area at (`x`, `y`), inset by a small margin,
    /// showing `ranges`. When the two spans are within a factor 3 of each other the
    /// shorter range is widened so both axes have the same scale (a circle stays round).
    public static func panel(x: Int, y: Int, width: Int, height: Int,
                             ranges: (x: ClosedRange<Double>, y: ClosedRange<Double>)) -> Panel {
        let margin = max(4, min(width, height) / 40)
        let w = max(1, width - 2 * margin - 2), h = max(1, height - 2 * margin - 2)
        var xr = ranges.x, yr = ranges.y
        let xPerPixel = (xr.upperBound - xr.lowerBound) / Double(w)
        let yPerPixel = (yr.upperBound - yr.lowerBound) / Double(h)
        if max(xPerPixel, yPerPixel) <= 3 * min(xPerPixel, yPerPixel) {
            let scale = max(xPerPixel, yPerPixel)
            func widened(_ r: ClosedRange<Double>, _ pixels: Int) -> ClosedRange<Double> {
                let mid = (r.lowerBound + r.upperBound) / 2, half = scale * Double(pixels) / 2
                return (mid - half)...(mid + half)
            }
            xr = widened(xr, w); yr = widened(yr, h)
        }
        return Panel(x: x + margin + 1, y: y + margin + 1, width: w, height: h, xRange: xr, yRange: yr)
    }

    /// Draws one scatter panel: zero axes, the `layers` of points (n×2 each, in order,
    /// later ones on top) and a thin frame.
    public static func drawScatter(on canvas: inout Canvas, panel: Panel,
                                   layers: [(points: [Float], color: Canvas.Color)], radius: Double = pointRadius) {
        let clip = (x: panel.x, y: panel.y, width: panel.width, height: panel.height)
        if panel.xRange.contains(0) {
            let px = Int(panel.pixel(0, 0).x.rounded(.down))
            canvas.fillRect(x: px, y: panel.y, width: 1, height: panel.height, color: .axis)
        }
        if panel.yRange.contains(0) {
            let py = Int(panel.pixel(0, 0).y.rounded(.down))
            canvas.fillRect(x: panel.x, y: py, width: panel.width, height: 1, color: .axis)
        }
        for layer in layers {
            let n = layer.points.count / 2
            // Dense clouds get fainter points so their density still shows.
            let alpha = min(0.8, max(0.12, 0.8 * (2000 / Double(max(n, 1))).squareRoot()))
            for r in 0..<n {
                let p = panel.pixel(Double(layer.points[2 * r]), Double(layer.points[2 * r + 1]))
                canvas.fillCircle(cx: p.x, cy: p.y, radius: radius, color: layer.color, alpha: alpha, clip: clip)
            }
        }
        canvas.strokeRect(x: panel.x - 1, y: panel.y - 1, width: panel.width + 2, height: panel.height + 2,
                          color: .frame)
    }

    /// The scatter plot as a canvas, with its panel (for mapping points to pixels).
    public static func scatterCanvas(samples: [Float], data: [Float]? = nil,
                                     width: Int = 640, height: Int = 640) -> (canvas: Canvas, panel: Panel) {
        precondition(samples.count % 2 == 0 && (data?.count ?? 0) % 2 == 0, "scatter: points must be n×2")
        var canvas = Canvas(width: width, height: height)
        let panel = Self.panel(x: 0, y: 0, width: width, height: height, ranges: ranges([samples] + (data.map { [$0] } ?? [])))
        var layers: [(points: [Float], color: Canvas.Color)] = []
        if let data { layers.append((data, .referenceLight)) }
        layers.append((samples, .sample))
        drawScatter(on: &canvas, panel: panel, layers: layers)
        return (canvas, panel)
    }

    /// A PNG scatter plot of 2-D `samples` (n×2, data space) in a strong colour over the
    /// reference `data` (m×2) in light grey-blue, on axes fitted to both clouds.
    public static func scatter(samples: [Float], data: [Float]? = nil, width: Int = 640, height: Int = 640,
                               title: String? = nil) -> [UInt8] {
        scatterCanvas(samples: samples, data: data, width: width, height: height).canvas.png(title: title)
    }

    /// Two panels side by side on the same axes: `left` (samples, red) | `right` (data, blue).
    /// `width` is the whole picture's.
    public static func sideBySideCanvas(left: [Float], right: [Float], width: Int = 1280,
                                        height: Int = 640) -> (canvas: Canvas, panels: (Panel, Panel)) {
        precondition(left.count % 2 == 0 && right.count % 2 == 0, "sideBySide: points must be n×2")
        var canvas = Canvas(width: width, height: height)
        let (a, b) = panelPair(width: width, height: height, ranges: ranges([left, right]))
        drawScatter(on: &canvas, panel: a, layers: [(left, .sample)])
        drawScatter(on: &canvas, panel: b, layers: [(right, .reference)])
        return (canvas, (a, b))
    }

    /// Two panels side by side, each half of a `width` × `height` picture, on the same axes.
    public static func panelPair(width: Int, height: Int,
                                 ranges r: (x: ClosedRange<Double>, y: ClosedRange<Double>)) -> (Panel, Panel) {
        let half = width / 2
        return (panel(x: 0, y: 0, width: half, height: height, ranges: r),
                panel(x: half, y: 0, width: width - half, height: height, ranges: r))
    }

    /// A PNG of samples next to data: two scatter panels with the same axes.
    public static func sideBySide(left: [Float], right: [Float], width: Int = 1280, height: Int = 640,
                                  title: String? = nil) -> [UInt8] {
        sideBySideCanvas(left: left, right: right, width: width, height: height).canvas.png(title: title)
    }

    // MARK: Image grids

    /// A raster of 1 (gray) or 3 (RGB) channels, row-major, channels interleaved.
    public struct Raster: Sendable, Equatable {
        public let width: Int, height: Int, channels: Int
        public var pixels: [UInt8]

        public init(width: Int, height: Int, channels: Int, fill: UInt8 = 255) {
            precondition(width > 0 && height > 0 && (channels == 1 || channels == 3))
            self.width = width; self.height = height; self.channels = channels
            pixels = [UInt8](repeating: fill, count: width * height * channels)
        }

        /// The value of channel `c` at column `x`, row `y`.
        public subscript(x: Int, y: Int, c: Int) -> UInt8 {
            get { pixels[(y * width + x) * channels + c] }
            set { pixels[(y * width + x) * channels + c] = newValue }
        }

        public func png(title: String? = nil) -> [UInt8] {
            let text: [(keyword: String, value: String)] = title.map { [("Title", $0)] } ?? []
            return channels == 1 ? PNG.encode(width: width, height: height, gray: pixels, text: text)
                                 : PNG.encode(width: width, height: height, rgb: pixels, text: text)
        }
    }

    /// Channels, height and width of images of `shape`: [H, W], [1, H, W] or [3, H, W].
    public static func imageLayout(_ shape: [Int]) -> (channels: Int, height: Int, width: Int)? {
        switch shape.count {
        case 2 where shape[0] > 0 && shape[1] > 0: return (1, shape[0], shape[1])
        case 3 where (shape[0] == 1 || shape[0] == 3) && shape[1] > 0 && shape[2] > 0: return (shape[0], shape[1], shape[2])
        default: return nil
        }
    }

    /// The grid as a raster: images (n × C×H×W, channel-major as models give them) in
    /// rows of `columns` (fewer when n is smaller), each pixel `scale`×`scale`, one
    /// white pixel between neighbours. Values are clamped to `range` and mapped linearly
    /// to 0…255 (NaN to 0). Gray for one channel, RGB for three.
    public static func gridRaster(images: [Float], shape: [Int], columns: Int, scale: Int,
                                  range: ClosedRange<Float>) -> Raster {
        guard let layout = imageLayout(shape) else {
            preconditionFailure("grid: shape \(shape) is not [H, W], [1, H, W] or [3, H, W]")
        }
        let (c, h, w) = layout
        precondition(columns > 0 && scale > 0, "grid: columns and scale must be positive")
        let d = c * h * w
        precondition(images.count % d == 0, "grid: \(images.count) values are not whole images of \(shape)")
        let n = images.count / d
        let cols = max(1, min(columns, n)), rows = max(1, (n + cols - 1) / cols)
        let cellW = w * scale, cellH = h * scale
        var raster = Raster(width: cols * cellW + (cols - 1), height: rows * cellH + (rows - 1), channels: c)
        let lo = range.lowerBound, span = range.upperBound - range.lowerBound
        func level(_ v: Float) -> UInt8 {
            guard !v.isNaN else { return 0 }
            if span <= 0 { return v >= range.upperBound ? 255 : 0 }
            let u = (min(max(v, range.lowerBound), range.upperBound) - lo) / span
            return UInt8((u * 255).rounded())
        }
        for i in 0..<n {
            let ox = (i % cols) * (cellW + 1), oy = (i / cols) * (cellH + 1)
            for ch in 0..<c {
                for yy in 0..<h {
                    for xx in 0..<w {
                        let value = level(images[i * d + (ch * h + yy) * w + xx])
                        for sy in 0..<scale {
                            for sx in 0..<scale {
                                raster[ox + xx * scale + sx, oy + yy * scale + sy, ch] = value
                            }
                        }
                    }
                }
            }
        }
        return raster
    }

    /// The range of the finite `values` (widened by ½ either side when they are all
    /// equal; 0…1 when there are none), for grids without a stated range.
    public static func valueRange(_ values: [Float]) -> ClosedRange<Float> {
        let finite = values.filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 1
        return lo < hi ? lo...hi : (lo - 0.5)...(hi + 0.5)
    }

    /// A PNG image grid (see `gridRaster`).
    public static func grid(images: [Float], shape: [Int], columns: Int, scale: Int,
                            range: ClosedRange<Float>, title: String? = nil) -> [UInt8] {
        gridRaster(images: images, shape: shape, columns: columns, scale: scale, range: range).png(title: title)
    }

    /// Two grids side by side (`left` samples | `right` data), `gap` white pixels apart,
    /// top-aligned.
    public static func gridSideBySide(left: [Float], right: [Float], shape: [Int], columns: Int, scale: Int,
                                      range: ClosedRange<Float>, gap: Int = 8, title: String? = nil) -> [UInt8] {
        let a = gridRaster(images: left, shape: shape, columns: columns, scale: scale, range: range)
        let b = gridRaster(images: right, shape: shape, columns: columns, scale: scale, range: range)
        var out = Raster(width: a.width + gap + b.width, height: max(a.height, b.height), channels: a.channels)
        for (raster, x0) in [(a, 0), (b, a.width + gap)] {
            for y in 0..<raster.height {
                for x in 0..<raster.width {
                    for ch in 0..<raster.channels { out[x0 + x, y, ch] = raster[x, y, ch] }
                }
            }
        }
        return out.png(title: title)
    }
}
