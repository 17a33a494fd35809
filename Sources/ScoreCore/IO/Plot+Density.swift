import Foundation

extension Plot {
    /// Fills `panel` with a density: each pixel blends white towards `color` by
    /// `density / peak` at its centre, where `peak` is the largest value over the panel's
    /// pixels; then the zero axes and the frame, as `drawScatter` draws them.
    /// `logDensity(x, y)` takes a data-space point; -∞ (or NaN) draws white.
    public static func drawDensity(on canvas: inout Canvas, panel: Panel, color: Canvas.Color = .reference,
                                   logDensity: (Double, Double) -> Double) {
        let xSpan = panel.xRange.upperBound - panel.xRange.lowerBound
        let ySpan = panel.yRange.upperBound - panel.yRange.lowerBound
        var logs = [Double](repeating: -.infinity, count: panel.width * panel.height)
        var peak = -Double.infinity
        for py in 0..<panel.height {
            let y = panel.yRange.upperBound - (Double(py) + 0.5) / Double(panel.height) * ySpan
            for px in 0..<panel.width {
                let x = panel.xRange.lowerBound + (Double(px) + 0.5) / Double(panel.width) * xSpan
                let value = logDensity(x, y)
                guard value.isFinite || value == .infinity else { continue }
                logs[py * panel.width + px] = value
                peak = max(peak, value)
            }
        }
        if peak.isFinite {
            for py in 0..<panel.height {
                for px in 0..<panel.width {
                    let share = (logs[py * panel.width + px] - peak).exponentialOrZero
                    canvas.blend(x: panel.x + px, y: panel.y + py, color: color, alpha: share)
                }
            }
        }
        drawScatter(on: &canvas, panel: panel, layers: [])
    }

    /// Samples (left, red) next to a density (right) on the same axes, fitted to the
    /// samples. `width` is the whole picture's.
    public static func samplesBesideDensity(samples: [Float], width: Int = 1280, height: Int = 640, title: String? = nil,
                                            logDensity: (Double, Double) -> Double) -> [UInt8] {
        precondition(samples.count % 2 == 0, "samplesBesideDensity: points must be n×2")
        var canvas = Canvas(width: width, height: height)
        let (left, right) = panelPair(width: width, height: height, ranges: ranges([samples]))
        drawScatter(on: &canvas, panel: left, layers: [(samples, .sample)])
        drawDensity(on: &canvas, panel: right, logDensity: logDensity)
        return canvas.png(title: title)
    }
}

private extension Double {
    /// e^self, and 0 for -∞ or NaN.
    var exponentialOrZero: Double { isNaN ? 0 : Foundation.exp(self) }
}
