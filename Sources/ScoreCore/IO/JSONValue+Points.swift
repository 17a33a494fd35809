import ScoreJSON

extension JSONValue {
    /// Rows of Float32 values as `[[...], ...]`, each row nested to `shape`
    /// (a flat array for `[D]`, `[[[...]]]` for `[C, H, W]`).
    public static func points(_ values: [Float], shape: [Int]) -> JSONValue {
        points(count: values.count, shape: shape) { .float(values[$0]) }
    }

    /// Rows of Float64 values, nested the same way (latents keep full precision so
    /// decoding round-trips).
    public static func points(_ values: [Double], shape: [Int]) -> JSONValue {
        points(count: values.count, shape: shape) { .number(values[$0]) }
    }

    private static func points(count: Int, shape: [Int], _ element: (Int) -> JSONValue) -> JSONValue {
        let d = shape.reduce(1, *)
        precondition(d > 0 && count % d == 0)
        return .array((0..<(count / d)).map { r in nest(from: r * d, shape: shape[...], element) })
    }

    private static func nest(from start: Int, shape: ArraySlice<Int>, _ element: (Int) -> JSONValue) -> JSONValue {
        guard let first = shape.first else { return element(start) }
        let inner = shape.dropFirst().reduce(1, *)
        if shape.count == 1 { return .array((0..<first).map { element(start + $0) }) }
        return .array((0..<first).map { nest(from: start + $0 * inner, shape: shape.dropFirst(), element) })
    }
}
