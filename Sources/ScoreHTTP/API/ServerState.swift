import Synchronization

/// Readiness of the service: starting (models loading), ready, or draining.
public final class ServerState: Sendable {
    public enum Phase: Sendable { case starting, ready, draining }
    private let phase = Mutex(Phase.starting)

    public init() {}

    public var current: Phase { phase.withLock { $0 } }
    public var isReady: Bool { current == .ready }

    public func markReady() { phase.withLock { if $0 == .starting { $0 = .ready } } }
    public func markDraining() { phase.withLock { $0 = .draining } }
}
