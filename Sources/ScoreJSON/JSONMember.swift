/// Locating a member of a JSON object in its text, for messages about values the
/// parser could not hold (a number past 64 bits names its field, not just a byte offset).
public enum JSONMember {
    /// The member of the top-level object whose value spans byte `position` (or ends
    /// just before it), with its value's text; nil when the text is not an object or no
    /// member holds the position. Tolerates the rest of the document being malformed.
    public static func containing(_ position: Int, in bytes: [UInt8]) -> (key: String, value: String)? {
        var i = 0, depth = 0
        var key: String?, valueStart = -1
        var lastString = ""
        func skipString() -> String? {
            // bytes[i] is the opening quote; returns the raw contents (escapes kept).
            var j = i + 1
            while j < bytes.count, bytes[j] != UInt8(ascii: "\"") {
                j += bytes[j] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard j < bytes.count else { return nil }
            defer { i = j + 1 }
            return String(decoding: bytes[(i + 1)..<j], as: UTF8.self)
        }
        func member(endingAt end: Int) -> (key: String, value: String)? {
            guard let key, valueStart >= 0, position >= valueStart, position <= end else { return nil }
            let text = String(decoding: bytes[valueStart..<min(end, bytes.count)], as: UTF8.self)
            return (key, text.trimmingSpaces)
        }
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "\""):
                guard let s = skipString() else { return member(endingAt: bytes.count) }
                lastString = s
                continue
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 1, let found = member(endingAt: i) { return found }
                depth -= 1
            case UInt8(ascii: ":") where depth == 1:
                key = lastString
                valueStart = i + 1
            case UInt8(ascii: ",") where depth == 1:
                if let found = member(endingAt: i) { return found }
                key = nil
                valueStart = -1
            default:
                break
            }
            i += 1
        }
        return member(endingAt: bytes.count)
    }
}

private extension String {
    var trimmingSpaces: String {
        let spaces: Set<Character> = [" ", "\t", "\n", "\r"]
        return String(drop { spaces.contains($0) }.reversed().drop { spaces.contains($0) }.reversed())
    }
}
