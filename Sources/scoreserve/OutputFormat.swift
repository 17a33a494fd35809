import ArgumentParser
import Foundation
import ScoreCore
import ScoreJSON
import ScoreSampling

/// How `sample`, `likelihood` and `encode` print their results.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// The JSON object the HTTP API answers.
    case json
    /// One point per line (points only).
    case csv
    /// A float32 `.npy` array of the points, shape [n, ...data.shape] (needs --output).
    case npy
}

/// Writes the answer: JSON to stdout (or --output), or the points as CSV / .npy.
func emit(_ answer: JSONObject, points: [Float], shape: [Int], format: OutputFormat, output: String?) throws {
    let bytes: [UInt8]
    switch format {
    case .json:
        bytes = Array((try JSONValue.object(answer).encoded() + "\n").utf8)
    case .csv:
        let d = shape.reduce(1, *)
        var text = ""
        for r in 0..<(points.count / d) {
            text += points[(r * d)..<((r + 1) * d)].map { JSONValue.shortest($0) }.joined(separator: ",") + "\n"
        }
        bytes = Array(text.utf8)
    case .npy:
        guard output != nil else { throw ValidationError("--format npy needs --output FILE") }
        let d = shape.reduce(1, *)
        bytes = NPY.encode(float32: points, shape: [points.count / d] + shape)
    }
    if let output {
        guard FileManager.default.createFile(atPath: output, contents: Data(bytes)) else {
            throw ValidationError("cannot write \(output)")
        }
    } else {
        FileHandle.standardOutput.write(Data(bytes))
    }
}

/// Draws a progress bar on stderr while a job runs, when stderr is a terminal: the
/// progress the HTTP event stream reports (`ProgressReport`).
final class ProgressBar: @unchecked Sendable {
    // @unchecked Sendable: `stopped` is only touched under `lock`.
    private let lock = NSLock()
    private var stopped = false
    private let label: String

    init(label: String) { self.label = label }

    /// Starts drawing the progress of a job of `nominalEvaluations` over `rows` rows.
    func start(_ progress: JobProgress, nominalEvaluations: Int, rows: Int) {
        guard isatty(2) != 0 else { return }
        let started = DispatchTime.now().uptimeNanoseconds
        Thread.detachNewThread { [self] in
            while true {
                lock.lock(); let done = stopped; lock.unlock()
                let report = ProgressReport(progress, nominalEvaluations: nominalEvaluations, rows: rows,
                                            elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
                let width = 30, filled = done ? width : Int(Double(width) * report.fraction)
                let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
                let text = done ? String(format: "ended after %.1f s", report.elapsedSeconds) : report.line
                // Clear to the end of the line: the text can get shorter.
                FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(text)\u{1B}[K".utf8))
                if done { FileHandle.standardError.write(Data("\n".utf8)); return }
                Thread.sleep(forTimeInterval: 0.25)
            }
        }
    }

    func stop() {
        lock.lock(); stopped = true; lock.unlock()
        if isatty(2) != 0 { Thread.sleep(forTimeInterval: 0.3) }
    }
}
