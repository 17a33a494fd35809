/// A JSON document that could not be parsed or encoded.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// 1-based line and column of a parse error; 0 when not applicable.
    public let line: Int
    public let column: Int
    /// Byte offset of a parse error in the document; 0 when not applicable.
    public let position: Int

    public init(_ message: String, line: Int = 0, column: Int = 0, position: Int = 0) {
        self.message = message
        self.line = line
        self.column = column
        self.position = position
    }

    /// A number the parser cannot hold: an integer past 64 bits or a real past Double.
    public var isNumberOutOfRange: Bool {
        message.hasPrefix("too big integer") || message.hasPrefix("too big negative integer")
            || message.hasPrefix("real number overflow")
    }

    public var description: String {
        line > 0 ? "\(message) (line \(line), column \(column))" : message
    }
}
