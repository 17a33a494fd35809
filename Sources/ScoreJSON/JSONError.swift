/// A JSON document that could not be parsed or encoded.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// 1-based line and column of a parse error; 0 when not applicable.
    public let line: Int
    public let column: Int

    public init(_ message: String, line: Int = 0, column: Int = 0) {
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        line > 0 ? "\(message) (line \(line), column \(column))" : message
    }
}
