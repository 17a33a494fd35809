import Synchronization

/// Bounds the work admitted at once, in sample × step units: beyond the budget a
/// request gets 429 (try again later); a request larger than the whole budget gets
/// 400 (it could never be served).
final class Admission: Sendable {
    let capacity: Int
    private let inFlight = Mutex(0)

    init(capacity: Int) { self.capacity = capacity }

    var current: Int { inFlight.withLock { $0 } }

    /// Reserves `units`, or throws the right refusal.
    func admit(_ units: Int) throws(APIError) {
        guard units <= capacity else {
            throw .invalid("the request needs \(units) units of work (samples × steps); this server admits at most \(capacity) at once")
        }
        let ok = inFlight.withLock { used -> Bool in
            if used + units > capacity { return false }
            used += units
            return true
        }
        guard ok else {
            throw APIError(status: 429, code: "overloaded", message: "the server is busy; retry shortly",
                           headers: [("Retry-After", "1")])
        }
    }

    func release(_ units: Int) { inFlight.withLock { $0 -= units } }
}
