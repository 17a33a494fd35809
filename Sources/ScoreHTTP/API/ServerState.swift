import Synchronization

/// Readiness of the service: starting (models loading), ready, lame duck (stopping:
/// `/readyz` says 503 so load balancers take the server out, while work that still
/// arrives is served), or draining (new work refused, work in flight finishing).
public final class ServerState: Sendable {
    public enum Phase: Sendable { case starting, ready, lameDuck, draining }
    private let phase = Mutex(Phase.starting)

    public init() {}

    public var current: Phase { phase.withLock { $0 } }
    /// What `/readyz` reports: true only while ready.
    public var isReady: Bool { current == .ready }
    /// Whether new work is accepted: while ready and as a lame duck.
    public var acceptsWork: Bool { [.ready, .lameDuck].contains(current) }

    public func markReady() { phase.withLock { if $0 == .starting { $0 = .ready } } }
    /// Stopping begins: not ready, still serving.
    public func markLameDuck() { phase.withLock { if $0 == .ready || $0 == .starting { $0 = .lameDuck } } }
    public func markDraining() { phase.withLock { $0 = .draining } }
}
