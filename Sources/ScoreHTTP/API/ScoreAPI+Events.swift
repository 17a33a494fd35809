import Dispatch
import Foundation
import ScoreHTTPTransport
import ScoreJSON
import ScoreSampling

/// Progress streaming: a POST that accepts `text/event-stream` is answered at once with
/// Server-Sent Events: `progress` events (at most every `minInterval`, at least every
/// `maxInterval`), then one `result` event holding exactly the JSON of the plain answer,
/// or one `error` event holding the error JSON. Admission, deadlines and cancellation are
/// those of the plain answer; a client that goes away cancels the work.
extension ScoreAPI {
    /// Progress events come no more often than this…
    static let minInterval = DispatchTimeInterval.milliseconds(250)
    /// …and no less often than this (a heartbeat while nothing moves).
    static let maxIntervalNanoseconds: UInt64 = 2_000_000_000

    /// Whether the request asks for an event stream.
    func wantsEvents(_ request: HTTPRequest) -> Bool { request.accepts("text/event-stream") }

    /// Admits and runs `plan`, answering with an event stream whose `result` is the body
    /// of `answer(result, elapsed milliseconds)` (an answer that is an error becomes the
    /// `error` event).
    func streamJob<P: EnginePlan>(_ plan: P, responder: HTTPResponder, timeoutMs: Int64?,
                                  answer: @escaping @Sendable (P.Output, Double) -> HTTPResponse) throws {
        let cost = plan.cost
        try admission.admit(cost)
        let progress = JobProgress()
        let submitted = DispatchTime.now().uptimeNanoseconds
        let control = control(for: responder, timeoutMs: timeoutMs, progress: progress)
        let stream = HTTPStream()
        var response = HTTPResponse(status: 200, contentType: "text/event-stream",
                                    body: [], headers: [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")])
        response.stream = stream
        responder.respond(response)

        let ticker = EventTicker(stream: stream, progress: progress, nominalEvaluations: plan.nominalEvaluations,
                                 rows: plan.rows, submitted: submitted)
        engine.submit(plan, control: control) { [self] result in
            admission.release(cost)
            finished(control: control, submitted: submitted, progress: progress)
            let final: HTTPResponse
            switch result {
            case .failure(let error): final = APIError(error).response
            case .success(let value):
                final = answer(value, Answer.elapsedMs(since: submitted, now: DispatchTime.now().uptimeNanoseconds))
            }
            ticker.finish(with: Self.event(final.status == 200 ? "result" : "error", final.body), outcome: final)
        }
    }

    /// One event: its name and its data line (JSON has no raw newlines).
    static func event(_ name: String, _ data: [UInt8]) -> [UInt8] {
        Array("event: \(name)\ndata: ".utf8) + data + Array("\n\n".utf8)
    }
}

/// Writes a job's `progress` events to its stream from a timer, and then its last
/// event: all on one serial queue, so the last event is the last written.
/// @unchecked Sendable: `timer` and `last` are touched only on `queue` (the timer's
/// handler and `finish`'s block) once `init` has returned.
final class EventTicker: @unchecked Sendable {
    private let queue = DispatchQueue(label: "scoreserve.events")
    private let timer: DispatchSourceTimer
    private let stream: HTTPStream
    private let progress: JobProgress
    private let nominalEvaluations: Int, rows: Int, submitted: UInt64
    /// The last event's fraction and time (uptime nanoseconds).
    private var last: (fraction: Double, at: UInt64)?

    init(stream: HTTPStream, progress: JobProgress, nominalEvaluations: Int, rows: Int, submitted: UInt64) {
        self.stream = stream
        self.progress = progress
        self.nominalEvaluations = nominalEvaluations
        self.rows = rows
        self.submitted = submitted
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.schedule(deadline: .now() + ScoreAPI.minInterval, repeating: ScoreAPI.minInterval)
        timer.resume()
    }

    /// A `progress` event when the fraction moved, or when `maxInterval` has passed.
    private func tick() {
        let now = DispatchTime.now().uptimeNanoseconds
        let report = ProgressReport(progress, nominalEvaluations: nominalEvaluations, rows: rows,
                                    elapsedSeconds: Double(now - submitted) / 1e9)
        if let last, last.fraction == report.fraction, now - last.at < ScoreAPI.maxIntervalNanoseconds { return }
        last = (report.fraction, now)
        let text = (try? JSONValue.object(Answer.progress(report)).encoded()) ?? "{}"
        stream.write(ScoreAPI.event("progress", Array(text.utf8)))
    }

    /// Stops the ticks, writes `event` and ends the stream with `outcome` (the plain
    /// answer the stream stands for, for the request's metrics and log line).
    func finish(with event: [UInt8], outcome: HTTPResponse) {
        queue.async { [self] in
            timer.cancel()
            stream.write(event)
            stream.finish(outcome: outcome)
        }
    }
}
