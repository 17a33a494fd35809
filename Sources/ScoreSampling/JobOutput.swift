import Synchronization

/// A result array that chunks fill concurrently, each its own disjoint range.
final class JobOutput<Element>: @unchecked Sendable {
    // @unchecked Sendable: chunks write disjoint index ranges, and the array is read
    // only after the scheduler has run every chunk (a happens-before edge).
    let buffer: UnsafeMutableBufferPointer<Element>

    init(count: Int, initial: Element) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: initial)
    }

    deinit { buffer.deallocate() }

    var array: [Element] { Array(buffer) }
}

/// The first error of a job's chunks; setting it stops the other chunks.
final class JobFailure: Sendable {
    let token = CancellationToken()
    private let first = Mutex<SamplingError?>(nil)

    func record(_ error: SamplingError) {
        first.withLock { if $0 == nil || $0 == .cancelled { $0 = error } }
        token.cancel()
    }

    var error: SamplingError? { first.withLock { $0 } }
}

