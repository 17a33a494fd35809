/// Vectors of `scalarCount` Winograd tiles side by side, with the two strided steps
/// F(4×4)'s transforms take across tiles: splitting a line into its four column phases,
/// and interleaving a run of tiles' four output columns back into a line. Written with
/// `evenHalf`/`oddHalf`, which LLVM lowers to in-lane shuffles.
protocol TileLanes: SIMD where Scalar == Float {
    /// The `4 · scalarCount` values at `p` as their four phases: (p[4t], p[4t + 1],
    /// p[4t + 2], p[4t + 3]) for t < scalarCount.
    static func phases(_ p: UnsafePointer<Float>) -> (Self, Self, Self, Self)
    /// p[4t + k] = (a, b, c, d)[k][t] for t < scalarCount: `phases`' inverse.
    static func interleave(_ a: Self, _ b: Self, _ c: Self, _ d: Self, into p: UnsafeMutablePointer<Float>)
}

extension SIMD8: TileLanes where Scalar == Float {
    @inline(__always)
    static func phases(_ p: UnsafePointer<Float>) -> (Self, Self, Self, Self) {
        let x0 = Lanes.load8(p), x1 = Lanes.load8(p + 8), x2 = Lanes.load8(p + 16), x3 = Lanes.load8(p + 24)
        let even01 = Self(lowHalf: x0.evenHalf, highHalf: x1.evenHalf), odd01 = Self(lowHalf: x0.oddHalf, highHalf: x1.oddHalf)
        let even23 = Self(lowHalf: x2.evenHalf, highHalf: x3.evenHalf), odd23 = Self(lowHalf: x2.oddHalf, highHalf: x3.oddHalf)
        return (Self(lowHalf: even01.evenHalf, highHalf: even23.evenHalf), Self(lowHalf: odd01.evenHalf, highHalf: odd23.evenHalf),
                Self(lowHalf: even01.oddHalf, highHalf: even23.oddHalf), Self(lowHalf: odd01.oddHalf, highHalf: odd23.oddHalf))
    }

    /// Each half's four tiles as `SIMD4`'s.
    @inline(__always)
    static func interleave(_ a: Self, _ b: Self, _ c: Self, _ d: Self, into p: UnsafeMutablePointer<Float>) {
        SIMD4.interleave(a.lowHalf, b.lowHalf, c.lowHalf, d.lowHalf, into: p)
        SIMD4.interleave(a.highHalf, b.highHalf, c.highHalf, d.highHalf, into: p + 16)
    }

    /// The lanes where `mask` is 0 cleared to +0 (a bitwise and: Swift's `replacing(with:where:)`
    /// runs lane by lane).
    @inline(__always)
    func masked(_ mask: SIMD8<UInt32>) -> Self {
        unsafeBitCast(unsafeBitCast(self, to: SIMD8<UInt32>.self) & mask, to: Self.self)
    }
}

extension SIMD4: TileLanes where Scalar == Float {
    @inline(__always)
    static func phases(_ p: UnsafePointer<Float>) -> (Self, Self, Self, Self) {
        let x0 = Lanes.load8(p), x1 = Lanes.load8(p + 8)
        let even = SIMD8(lowHalf: x0.evenHalf, highHalf: x1.evenHalf), odd = SIMD8(lowHalf: x0.oddHalf, highHalf: x1.oddHalf)
        return (even.evenHalf, odd.evenHalf, even.oddHalf, odd.oddHalf)
    }

    @inline(__always)
    static func interleave(_ a: Self, _ b: Self, _ c: Self, _ d: Self, into p: UnsafeMutablePointer<Float>) {
        var ac = SIMD8<Float>(), bd = SIMD8<Float>(), all = SIMD16<Float>()
        ac.evenHalf = a; ac.oddHalf = c
        bd.evenHalf = b; bd.oddHalf = d
        all.evenHalf = ac; all.oddHalf = bd
        Lanes.store(all, p)
    }
}
