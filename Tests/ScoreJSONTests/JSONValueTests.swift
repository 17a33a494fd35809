import Testing
import Foundation
import ScoreJSON

@Suite("JSON through jansson")
struct JSONValueTests {
    @Test("parses every JSON type, keeping object order")
    func parse() throws {
        let v = try JSONValue.parse(#"{"b": [1, 2.5, -3e2, true, false, null], "a": "h\u00e9\n", "n": 9007199254740993}"#)
        guard case .object(let o) = v else { Issue.record("not an object"); return }
        #expect(o.keys == ["b", "a", "n"])
        #expect(o["b"] == .array([.integer(1), .number(2.5), .number(-300), .bool(true), .bool(false), .null]))
        #expect(o["a"] == .string("hé\n"))
        #expect(o["n"] == .integer(9_007_199_254_740_993))  // integers stay exact
        #expect(try JSONValue.parse("3") == .integer(3))  // any top-level value
    }

    @Test("duplicate keys and malformed text are errors with a position")
    func errors() {
        #expect(throws: JSONError.self) { try JSONValue.parse(#"{"n": 1, "n": 2}"#) }
        do {
            _ = try JSONValue.parse("{\n  \"a\": [1, 2,\n}")
            Issue.record("parsed malformed JSON")
        } catch {
            #expect(error.line == 3)
            #expect(!error.message.isEmpty)
        }
        #expect(throws: JSONError.self) { try JSONValue.parse("") }
        #expect(throws: JSONError.self) { try JSONValue.parse("[1e999]") }
        #expect(throws: JSONError.self) { try JSONValue.parse("[NaN]") }
        #expect(throws: JSONError.self) { try JSONValue.parse([0xFF, 0xFE]) }
    }

    @Test("encodes the shortest round-trip numbers and escapes strings")
    func encode() throws {
        let v = JSONValue.object(JSONObject([
            "f": .array([.float(0.1), .float(1e-5), .float(-2), .float(3.4028235e38)]),
            "d": .array([.number(0.1), .number(1e-300), .number(-0.0), .integer(-7)]),
            "s": .string("q\"\\\n\u{1}é"),
        ]))
        let text = try v.encoded()
        #expect(text == #"{"f":[0.1,1e-05,-2.0,3.4028235e+38],"d":[0.1,1e-300,-0.0,-7],"s":"q\"\\\n\u0001é"}"#)
        // jansson reads back exactly what was written.
        guard case .object(let back) = try JSONValue.parse(text), case .array(let f)? = back["f"] else {
            Issue.record("did not round-trip"); return
        }
        #expect(f.map { Float($0.doubleValue!) } == [0.1, 1e-5, -2, 3.4028235e38])
        #expect(back["s"] == .string("q\"\\\n\u{1}é"))
    }

    @Test("non-finite numbers are an error, never invalid JSON")
    func nonFinite() {
        #expect(throws: JSONError.self) { try JSONValue.array([.number(.nan)]).encoded() }
        #expect(throws: JSONError.self) { try JSONValue.array([.float(.infinity)]).encoded() }
        do {
            _ = try JSONValue.object(JSONObject(["x": .array([.number(1), .number(-.infinity)])])).encoded()
        } catch {
            #expect(error.message.contains("$.x[1]"))
        }
    }
}

@Suite("JSONMember")
struct JSONMemberTests {
    /// The member whose value holds a byte offset, past strings with braces, commas and
    /// escaped quotes, and past nested objects.
    @Test func findsTheMemberHoldingAPosition() throws {
        let text = #"{"a": "x,}\"{", "b": {"c": [1, 2]}, "n": 123456789012345678901234, "z": 1}"#
        let bytes = Array(text.utf8)
        func offset(_ needle: String) -> Int { text.utf8.distance(from: text.startIndex, to: text.range(of: needle)!.lowerBound) }
        #expect(JSONMember.containing(offset("123456") + 5, in: bytes)?.key == "n")
        #expect(JSONMember.containing(offset("123456") + 5, in: bytes)?.value == "123456789012345678901234")
        #expect(JSONMember.containing(offset("[1, 2]") + 1, in: bytes)?.key == "b")
        #expect(JSONMember.containing(offset("x,}"), in: bytes)?.key == "a")
        #expect(JSONMember.containing(offset(": 1}") + 2, in: bytes)?.key == "z")
        // The parser reports where it stopped: the member is found from that offset.
        do {
            _ = try JSONValue.parse(text)
            Issue.record("an integer past 64 bits parsed")
        } catch {
            #expect(error.isNumberOutOfRange, "\(error)")
            #expect(JSONMember.containing(error.position, in: bytes)?.key == "n", "position \(error.position)")
        }
        #expect(JSONMember.containing(3, in: Array("[1, 2]".utf8)) == nil)
    }
}
