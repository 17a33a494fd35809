import ScoreJSON

extension JSONValue {
    /// Rows of Float32 values as `[[...], ...]`, each row nested to `shape`
    /// (a flat array for `[D]`, `[[[...]]]` for `[C, H, W]`).
    public static func points(_ values: [Float], shape: [Int]) -> JSONValue {
        let d = shape.reduce(1, *)
        precondition(d > 0 && values.count % d == 0)
        return .array((0..<(values.count / d)).map { r in
            nest(values, from: r * d, shape: shape[...])
        })
    }

    private static func nest(_ values: [Float], from start: Int, shape: ArraySlice<Int>) -> JSONValue {
        guard let first = shape.first else { return .float(values[start]) }
        let inner = shape.dropFirst().reduce(1, *)
        if shape.count == 1 { return .array((0..<first).map { .float(values[start + $0]) }) }
        return .array((0..<first).map { nest(values, from: start + $0 * inner, shape: shape.dropFirst()) })
    }
}
