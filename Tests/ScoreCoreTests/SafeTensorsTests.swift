import Foundation
import ScoreCore
import ScoreJSON
import Testing

/// Tests of the safetensors reader against the format and the validation rules of the
/// reference implementation (huggingface/safetensors `read_metadata` / `Metadata::validate`).
@Suite struct SafeTensorsTests {

    // MARK: - Building files

    /// The 8-byte little-endian length prefix.
    static func lengthPrefix(_ n: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) }
    }

    /// The length prefix of a file (which must be at least 8 bytes).
    static func readPrefix(_ bytes: [UInt8]) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
    }

    /// A file of `headerBytes` and `data`; the prefix is the header's length unless
    /// `headerLength` says otherwise.
    static func makeFile(headerBytes: [UInt8], data: [UInt8] = [], headerLength: UInt64? = nil) -> [UInt8] {
        lengthPrefix(headerLength ?? UInt64(headerBytes.count)) + headerBytes + data
    }

    static func makeFile(header: String, data: [UInt8] = [], headerLength: UInt64? = nil) -> [UInt8] {
        makeFile(headerBytes: Array(header.utf8), data: data, headerLength: headerLength)
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.littleEndian) { Array($0) }
    }

    /// One tensor of a file to build: its header fields and its raw little-endian bytes.
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var bytes: [UInt8]

        static func f32(_ name: String, _ shape: [Int], _ values: [Float]) -> Entry {
            Entry(name: name, dtype: "F32", shape: shape, bytes: values.flatMap { le($0.bitPattern) })
        }
        static func f64(_ name: String, _ shape: [Int], _ values: [Double]) -> Entry {
            Entry(name: name, dtype: "F64", shape: shape, bytes: values.flatMap { le($0.bitPattern) })
        }
        static func i32(_ name: String, _ shape: [Int], _ values: [Int32]) -> Entry {
            Entry(name: name, dtype: "I32", shape: shape, bytes: values.flatMap { le($0) })
        }
    }

    /// A JSON string literal.
    static func jsonString(_ s: String) -> String {
        // Strings always encode.
        (try? JSONValue.string(s).encoded()) ?? "\"\""
    }

    /// The JSON header entry of one tensor.
    static func entryJSON(_ name: String, dtype: String, shape: [Int], offsets: (Int, Int)) -> String {
        let dims = shape.map(String.init).joined(separator: ",")
        return "\(jsonString(name)):{\"dtype\":\(jsonString(dtype)),\"shape\":[\(dims)],"
            + "\"data_offsets\":[\(offsets.0),\(offsets.1)]}"
    }

    /// A valid file holding `entries`, their data laid out in the order given. With
    /// `alignHeader`, the header is padded with spaces so the data starts on an 8-byte
    /// boundary, as the reference writer does.
    static func makeValidFile(_ entries: [Entry], metadata: [String: String]? = nil,
                              alignHeader: Bool = false) -> [UInt8] {
        var fields: [String] = []
        if let metadata {
            let pairs = metadata.sorted { $0.key < $1.key }
                .map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var data: [UInt8] = []
        for e in entries {
            let begin = data.count
            data += e.bytes
            fields.append(entryJSON(e.name, dtype: e.dtype, shape: e.shape, offsets: (begin, data.count)))
        }
        var header = Array("{\(fields.joined(separator: ","))}".utf8)
        if alignHeader {
            while (8 + header.count) % 8 != 0 { header.append(UInt8(ascii: " ")) }
        }
        return makeFile(headerBytes: header, data: data)
    }

    /// A file whose header has the given tensor entries (name, dtype, shape, offsets) and
    /// `dataBytes` bytes of data, for the rejection tests.
    static func makeRawFile(_ entries: [(String, String, [Int], (Int, Int))], dataBytes: Int) -> [UInt8] {
        let fields = entries.map { entryJSON($0.0, dtype: $0.1, shape: $0.2, offsets: $0.3) }
        return makeFile(header: "{\(fields.joined(separator: ","))}",
                        data: (0..<dataBytes).map { UInt8(truncatingIfNeeded: $0) })
    }

    // MARK: - Checking rejections

    /// The error the reader throws for `bytes`; records an issue when it accepts them.
    static func rejection(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> SafeTensorsError? {
        do {
            let st = try SafeTensors(bytes: bytes)
            Issue.record("accepted an invalid file (tensors \(st.tensors.map(\.name)))", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    /// Expects `bytes` to be rejected with exactly `expected`, whose description mentions
    /// each of `mentioning`.
    static func expectRejection(_ bytes: [UInt8], _ expected: SafeTensorsError, mentioning: [String] = [],
                                sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: expected, sourceLocation: sourceLocation) { _ = try SafeTensors(bytes: bytes) }
        guard let error = rejection(bytes, sourceLocation: sourceLocation) else { return }
        for m in mentioning {
            #expect(error.description.contains(m), "'\(error.description)' should mention '\(m)'",
                    sourceLocation: sourceLocation)
        }
    }

    /// Expects `.invalidEntry` for `tensor`, with a reason mentioning `reasonMentions`
    /// and a description naming the tensor.
    static func expectInvalidEntry(_ bytes: [UInt8], tensor: String, reasonMentions: String,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error = rejection(bytes, sourceLocation: sourceLocation) else { return }
        guard case .invalidEntry(let t, let reason) = error else {
            Issue.record("expected invalidEntry for '\(tensor)', got \(error)", sourceLocation: sourceLocation)
            return
        }
        #expect(t == tensor, sourceLocation: sourceLocation)
        #expect(reason.contains(reasonMentions), "reason '\(reason)' should mention '\(reasonMentions)'",
                sourceLocation: sourceLocation)
        #expect(error.description.contains("'\(tensor)'"), sourceLocation: sourceLocation)
    }

    /// Expects `.headerNotJSON`; returns its message.
    @discardableResult
    static func expectNotJSON(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        guard let error = rejection(bytes, sourceLocation: sourceLocation) else { return nil }
        guard case .headerNotJSON(let message) = error else {
            Issue.record("expected headerNotJSON, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
        #expect(error.description.contains(message), sourceLocation: sourceLocation)
        return message
    }

    static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    // MARK: - Valid files

    @Test func validFileRoundTrips() throws {
        let bValues: [Float] = [-0.0, 1e-38, 3.4e38, -1.5, .infinity, Float(bitPattern: 0x7FC0_1234)]
        // Header order, data order and name order all differ.
        let bytes = Self.makeValidFile([
            .i32("c", [], [-7]),
            .f32("b", [2, 3], bValues),
            .f64("a", [2], [0.25, -2]),
            .f32("d_scalar", [], [Float.leastNonzeroMagnitude]),
        ], metadata: ["format": "pt", "note": "tab\there \"quoted\" é"])
        let st = try SafeTensors(bytes: bytes)

        #expect(st.tensors.map(\.name) == ["a", "b", "c", "d_scalar"])
        #expect(st.metadata == ["format": "pt", "note": "tab\there \"quoted\" é"])

        let a = try #require(st.info("a"))
        #expect(a.name == "a")
        #expect(a.dtype == .F64)
        #expect(a.shape == [2])
        #expect(a.offsets == 28..<44)
        let b = try #require(st.info("b"))
        #expect(b.dtype == .F32)
        #expect(b.shape == [2, 3])
        #expect(b.offsets == 4..<28)
        #expect(b.elementCount == 6)
        let c = try #require(st.info("c"))
        #expect(c.dtype == .I32)
        #expect(c.shape == [])
        #expect(c.elementCount == 1)
        #expect(c.offsets == 0..<4)

        // Bit-exact, including the sign of -0.0, a subnormal, the largest magnitudes and a NaN payload.
        #expect(Self.bits(try st.floats("b")) == Self.bits(bValues))
        let d = try st.floats("d_scalar")
        #expect(Self.bits(d) == [1])
        #expect(st.info("__metadata__") == nil)
    }

    @Test func headerPaddedWithTrailingSpacesIsAccepted() throws {
        let entries: [Entry] = [.f32("weight", [3], [1, 2, 3])]
        let plain = Self.makeValidFile(entries)
        let padded = Self.makeValidFile(entries, alignHeader: true)
        let n = Int(Self.readPrefix(padded))
        #expect((8 + n) % 8 == 0)
        #expect(padded.count > plain.count, "the test header must actually need padding")
        #expect(padded[8 + n - 1] == UInt8(ascii: " "))

        let st = try SafeTensors(bytes: padded)
        #expect(st.tensors.map(\.name) == ["weight"])
        #expect(try st.floats("weight") == [1, 2, 3])

        // Other JSON whitespace after the object is fine too.
        let newline = Self.makeFile(header: "{}\n\t\r ")
        #expect(try SafeTensors(bytes: newline).tensors.isEmpty)
    }

    @Test func emptyFilesAreAccepted() throws {
        let empty = try SafeTensors(bytes: Self.makeFile(header: "{}"))
        #expect(empty.tensors.isEmpty)
        #expect(empty.metadata.isEmpty)
        #expect(throws: SafeTensorsError.missingTensor("x")) { _ = try empty.floats("x") }

        let onlyMetadata = try SafeTensors(bytes: Self.makeValidFile([], metadata: ["format": "pt"]))
        #expect(onlyMetadata.tensors.isEmpty)
        #expect(onlyMetadata.metadata == ["format": "pt"])

        let emptyMetadata = try SafeTensors(bytes: Self.makeFile(header: #"{"__metadata__":{}}"#))
        #expect(emptyMetadata.metadata.isEmpty)
    }

    @Test func zeroSizedAndScalarTensorsAreAccepted() throws {
        let bytes = Self.makeValidFile([
            .f32("empty", [0, 3], []),
            .f32("scalar", [], [42.5]),
            Entry(name: "empty_i64", dtype: "I64", shape: [5, 0], bytes: []),
            .f32("tail_empty", [0], []),
        ])
        let st = try SafeTensors(bytes: bytes)
        #expect(st.tensors.map(\.name) == ["empty", "empty_i64", "scalar", "tail_empty"])
        let empty = try #require(st.info("empty"))
        #expect(empty.offsets == 0..<0)
        #expect(empty.elementCount == 0)
        #expect(try st.floats("empty") == [])
        #expect(try st.floats("scalar") == [42.5])
        #expect(st.info("tail_empty")?.offsets == 4..<4)
        #expect(st.info("scalar")?.elementCount == 1)

        // A zero anywhere in the shape stops the product before huge dimensions overflow it.
        let zeroFirst = Self.makeRawFile([("z", "F32", [0, 4_294_967_296, 4_294_967_296, 4_294_967_296], (0, 0))],
                                         dataBytes: 0)
        let z = try SafeTensors(bytes: zeroFirst)
        #expect(z.info("z")?.elementCount == 0)
        #expect(try z.floats("z") == [])
    }

    @Test func everyDTypeHasTheReferenceSize() throws {
        let sizes: [String: Int] = [
            "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
            "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
            "I32": 4, "U32": 4, "F32": 4,
            "F64": 8, "I64": 8, "U64": 8,
        ]
        #expect(Set(SafeTensors.DType.allCases.map(\.rawValue)) == Set(sizes.keys))
        for (name, size) in sizes {
            let dtype = try #require(SafeTensors.DType(rawValue: name))
            #expect(dtype.size == size, "\(name)")
            let file = Self.makeRawFile([("t", name, [3], (0, 3 * size))], dataBytes: 3 * size)
            let st = try SafeTensors(bytes: file)
            #expect(st.info("t")?.dtype == dtype)
            #expect(st.info("t")?.offsets == 0..<(3 * size))
            // One byte too few for this dtype is a size mismatch.
            let short = Self.makeRawFile([("t", name, [3], (0, 3 * size - 1))], dataBytes: 3 * size - 1)
            Self.expectRejection(short, .sizeMismatch(tensor: "t", expectedBytes: 3 * size, actualBytes: 3 * size - 1))
        }
    }

    @Test func loadReadsAFileAndReportsAMissingOne() throws {
        let bytes = Self.makeValidFile([.f32("w", [2], [1, -1])], metadata: ["k": "v"])
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("safetensors-test-\(UUID().uuidString).safetensors")
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let st = try SafeTensors.load(path: url.path)
        #expect(try st.floats("w") == [1, -1])
        #expect(st.metadata == ["k": "v"])

        let missing = url.path + ".missing"
        do {
            _ = try SafeTensors.load(path: missing)
            Issue.record("loaded a missing file")
        } catch {
            guard case .unreadable(let path, _) = error else {
                Issue.record("expected unreadable, got \(error)")
                return
            }
            #expect(path == missing)
            #expect(error.description.contains(missing))
        }

        // A directory is not a file to read.
        let directory = FileManager.default.temporaryDirectory.path
        do {
            _ = try SafeTensors.load(path: directory)
            Issue.record("loaded a directory")
        } catch {
            guard case .unreadable(let path, _) = error else {
                Issue.record("expected unreadable for a directory, got \(error)")
                return
            }
            #expect(path == directory)
        }
    }

    // MARK: - Rejections: prefix and header text

    @Test func rejectsFileShorterThanPrefix() {
        Self.expectRejection([], .fileTooSmall(bytes: 0))
        Self.expectRejection([2, 0, 0, 0, 0, 0, 0], .fileTooSmall(bytes: 7), mentioning: ["7"])
    }

    @Test func rejectsHeaderLengthOverLimit() {
        Self.expectRejection(Self.makeFile(header: "{}", headerLength: 100_000_001),
                             .headerTooLarge(bytes: 100_000_001), mentioning: ["100000001"])
        // Lengths that do not fit an Int must not trap on conversion.
        Self.expectRejection(Self.makeFile(header: "{}", headerLength: UInt64.max),
                             .headerTooLarge(bytes: UInt64.max), mentioning: ["\(UInt64.max)"])
        Self.expectRejection(Self.makeFile(header: "{}", headerLength: 1 << 63), .headerTooLarge(bytes: 1 << 63))
        // Exactly the limit is not too large, only past the end of this file.
        Self.expectRejection(Self.makeFile(header: "{}", headerLength: 100_000_000),
                             .headerPastEnd(headerBytes: 100_000_000, fileBytes: 10))
    }

    @Test func rejectsHeaderLengthPastEndOfFile() {
        Self.expectRejection(Self.makeFile(header: "{}", headerLength: 3),
                             .headerPastEnd(headerBytes: 3, fileBytes: 10), mentioning: ["3", "10"])
        // Prefix only, claiming one header byte.
        Self.expectRejection(Self.lengthPrefix(1), .headerPastEnd(headerBytes: 1, fileBytes: 8))
    }

    @Test func rejectsHeaderThatIsNotUTF8() {
        Self.expectRejection(Self.makeFile(headerBytes: [0x7B, 0xFF, 0x7D]), .headerNotUTF8)
        // Invalid UTF-8 inside a JSON string: a lone surrogate and an overlong encoding.
        let surrogate = Array(#"{"__metadata__":{"k":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}}"#.utf8)
        Self.expectRejection(Self.makeFile(headerBytes: surrogate), .headerNotUTF8, mentioning: ["UTF-8"])
        let overlong = Array(#"{""#.utf8) + [0xC0, 0xAF] + Array(#"":{}}"#.utf8)
        Self.expectRejection(Self.makeFile(headerBytes: overlong), .headerNotUTF8)
    }

    @Test func rejectsHeaderNotStartingWithBrace() {
        Self.expectRejection(Self.makeFile(header: "[]"), .headerNotObject, mentioning: ["{"])
        // The reference checks the first byte, so leading whitespace is rejected too.
        Self.expectRejection(Self.makeFile(header: " {}"), .headerNotObject)
        Self.expectRejection(Self.makeFile(header: "\n{}"), .headerNotObject)
        Self.expectRejection(Self.makeFile(header: "\u{FEFF}{}"), .headerNotObject)
        Self.expectRejection(Self.makeFile(header: #""{}""#), .headerNotObject)
        Self.expectRejection(Self.makeFile(header: "null"), .headerNotObject)
        // An empty header has no first byte at all.
        Self.expectRejection(Self.makeFile(header: ""), .headerNotObject)
    }

    @Test func rejectsInvalidJSON() {
        Self.expectNotJSON(Self.makeFile(header: "{"))
        Self.expectNotJSON(Self.makeFile(header: #"{"w":"#))
        Self.expectNotJSON(Self.makeFile(header: "{}x"))
        Self.expectNotJSON(Self.makeFile(header: "{} {}"))
        Self.expectNotJSON(Self.makeFile(header: #"{"w":{"dtype":"F32",}}"#))
        Self.expectNotJSON(Self.makeFile(header: "{'w':1}"))
        Self.expectNotJSON(Self.makeFile(headerBytes: Array("{}".utf8) + [0]))
        // Numbers JSON can write but a 64-bit reader cannot hold.
        Self.expectNotJSON(Self.makeFile(
            header: #"{"w":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}}"#))
        Self.expectNotJSON(Self.makeFile(header: #"{"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}}"#))
        // A NUL escape in a key cannot be represented.
        Self.expectNotJSON(Self.makeFile(header: #"{"a\u0000b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#,
                                         data: [0, 0, 0, 0]))
    }

    @Test func rejectsDeeplyNestedHeaders() {
        // Within jansson's depth limit the value is parsed (and converted recursively),
        // then rejected as the wrong type; past the limit the parser refuses it.
        for depth in [100, 2000] {
            let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            Self.expectInvalidEntry(Self.makeFile(header: #"{"w":"# + nested + "}"), tensor: "w",
                                    reasonMentions: "object")
            let error = Self.rejection(Self.makeFile(header: #"{"__metadata__":"# + nested + "}"))
            guard case .invalidMetadata? = error else {
                Issue.record("expected invalidMetadata at depth \(depth), got \(String(describing: error))")
                continue
            }
        }
        let tooDeep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        Self.expectNotJSON(Self.makeFile(header: #"{"w":"# + tooDeep + "}"))
        let unclosed = String(repeating: "{\"a\":", count: 100_000)
        Self.expectNotJSON(Self.makeFile(header: unclosed))
    }

    @Test func rejectsDuplicateKeys() {
        let w = Self.entryJSON("w", dtype: "F32", shape: [1], offsets: (0, 4))
        let message = Self.expectNotJSON(Self.makeFile(header: "{\(w),\(w)}", data: [0, 0, 0, 0]))
        #expect(message?.contains("duplicate") == true, "\(message ?? "")")
        // The same tensor name with different, individually valid, entries.
        let w2 = Self.entryJSON("w", dtype: "F32", shape: [2], offsets: (0, 8))
        Self.expectNotJSON(Self.makeFile(header: "{\(w),\(w2)}", data: [UInt8](repeating: 0, count: 8)))
        // Duplicate __metadata__, and a duplicate key inside an entry.
        Self.expectNotJSON(Self.makeFile(header: #"{"__metadata__":{"a":"1"},"__metadata__":{"a":"2"}}"#))
        Self.expectNotJSON(Self.makeFile(
            header: #"{"w":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        Self.expectNotJSON(Self.makeFile(header: #"{"__metadata__":{"a":"1","a":"2"}}"#))
    }

    // MARK: - Rejections: __metadata__ and entries

    @Test func rejectsMetadataThatIsNotAnObjectOfStrings() {
        for (value, typeName) in [(#"["a"]"#, "array"), (#""pt""#, "string"), ("1", "integer")] {
            let error = Self.rejection(Self.makeFile(header: #"{"__metadata__":"# + value + "}"))
            guard case .invalidMetadata(let message)? = error else {
                Issue.record("expected invalidMetadata for \(value), got \(String(describing: error))")
                continue
            }
            #expect(message.contains(typeName), "\(message)")
            #expect(error?.description.contains("__metadata__") == true)
        }
        for (value, typeName) in [("1", "integer"), ("1.5", "number"), ("null", "null"), ("true", "boolean"),
                                  (#"["x"]"#, "array"), (#"{"x":"y"}"#, "object")] {
            let error = Self.rejection(Self.makeFile(header: #"{"__metadata__":{"ok":"s","bad":"# + value + "}}"))
            guard case .invalidMetadata(let message)? = error else {
                Issue.record("expected invalidMetadata for \(value), got \(String(describing: error))")
                continue
            }
            #expect(message.contains("'bad'"), "\(message)")
            #expect(message.contains(typeName), "\(message)")
        }
    }

    @Test func rejectsEntryThatIsNotAnObject() {
        Self.expectInvalidEntry(Self.makeFile(header: #"{"w":[1,2]}"#), tensor: "w", reasonMentions: "object")
        Self.expectInvalidEntry(Self.makeFile(header: #"{"w":"F32"}"#), tensor: "w", reasonMentions: "object")
        Self.expectInvalidEntry(Self.makeFile(header: #"{"w":null}"#), tensor: "w", reasonMentions: "object")
    }

    @Test func rejectsMissingOrNonStringDType() {
        Self.expectInvalidEntry(Self.makeFile(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                                tensor: "w", reasonMentions: "dtype")
        Self.expectInvalidEntry(Self.makeFile(header: #"{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}"#,
                                              data: [0, 0, 0, 0]),
                                tensor: "w", reasonMentions: "dtype")
    }

    @Test func rejectsUnknownDType() {
        for name in ["F33", "f32", "F32 ", "", "FLOAT"] {
            let file = Self.makeRawFile([("w", name, [1], (0, 4))], dataBytes: 4)
            Self.expectRejection(file, .unknownDType(tensor: "w", dtype: name), mentioning: ["'w'", "'\(name)'"])
        }
    }

    @Test func rejectsBadShape() {
        let cases = [
            #""shape":[-1]"#, #""shape":[2,-3]"#, #""shape":[2.0]"#, #""shape":["2"]"#, #""shape":[null]"#,
            #""shape":[[2]]"#, #""shape":2"#, #""shape":{}"#,
        ]
        for shape in cases {
            let header = #"{"w":{"dtype":"F32","# + shape + #","data_offsets":[0,8]}}"#
            Self.expectInvalidEntry(Self.makeFile(header: header, data: [UInt8](repeating: 0, count: 8)),
                                    tensor: "w", reasonMentions: "shape")
        }
        // Missing shape.
        Self.expectInvalidEntry(Self.makeFile(header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#,
                                              data: [0, 0, 0, 0]),
                                tensor: "w", reasonMentions: "shape")
    }

    @Test func rejectsBadDataOffsets() {
        let cases = [
            "[0]", "[]", "[0,4,8]", "[-4,0]", "[0,-4]", "[0,4.0]", #"["0",4]"#, "null", "4",
        ]
        for offsets in cases {
            let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":"# + offsets + "}}"
            Self.expectInvalidEntry(Self.makeFile(header: header, data: [0, 0, 0, 0]),
                                    tensor: "w", reasonMentions: "data_offsets")
        }
        Self.expectInvalidEntry(Self.makeFile(header: #"{"w":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]),
                                tensor: "w", reasonMentions: "data_offsets")
        // End before begin.
        let reversed = Self.makeRawFile([("w", "F32", [1], (8, 4))], dataBytes: 8)
        Self.expectInvalidEntry(reversed, tensor: "w", reasonMentions: "before")
    }

    // MARK: - Rejections: layout of the data section

    @Test func rejectsByteSizeMismatch() {
        // Shape says 6 floats (24 bytes); the offsets span 20.
        let file = Self.makeRawFile([("w", "F32", [2, 3], (0, 20))], dataBytes: 20)
        Self.expectRejection(file, .sizeMismatch(tensor: "w", expectedBytes: 24, actualBytes: 20),
                             mentioning: ["'w'", "24", "20"])
        // Too many bytes also mismatches.
        let long = Self.makeRawFile([("w", "F64", [2], (0, 24))], dataBytes: 24)
        Self.expectRejection(long, .sizeMismatch(tensor: "w", expectedBytes: 16, actualBytes: 24))
        // A scalar is one element, not zero.
        let scalar = Self.makeRawFile([("s", "F32", [], (0, 0))], dataBytes: 0)
        Self.expectRejection(scalar, .sizeMismatch(tensor: "s", expectedBytes: 4, actualBytes: 0))
    }

    @Test func rejectsGapBetweenTensors() {
        let file = Self.makeRawFile([("a", "F32", [1], (0, 4)), ("b", "F32", [1], (8, 12))], dataBytes: 12)
        Self.expectRejection(file, .misplacedTensor(tensor: "b", expectedStart: 4, start: 8, end: 12),
                             mentioning: ["'b'", "[8, 12]", "4"])
    }

    @Test func rejectsOverlappingTensors() {
        let file = Self.makeRawFile([("a", "F32", [2], (0, 8)), ("b", "F32", [1], (4, 8))], dataBytes: 8)
        Self.expectRejection(file, .misplacedTensor(tensor: "b", expectedStart: 8, start: 4, end: 8),
                             mentioning: ["'b'"])
        // Two tensors on the same bytes.
        let same = Self.makeRawFile([("a", "F32", [1], (0, 4)), ("b", "F32", [1], (0, 4))], dataBytes: 4)
        Self.expectRejection(same, .misplacedTensor(tensor: "b", expectedStart: 4, start: 0, end: 4))
        // An empty tensor placed inside another one.
        let inside = Self.makeRawFile([("a", "F32", [2], (0, 8)), ("e", "F32", [0], (4, 4))], dataBytes: 8)
        Self.expectRejection(inside, .misplacedTensor(tensor: "e", expectedStart: 8, start: 4, end: 4))
        // An empty tensor past the end of the data.
        let beyond = Self.makeRawFile([("a", "F32", [1], (0, 4)), ("e", "F32", [0], (100, 100))], dataBytes: 4)
        Self.expectRejection(beyond, .misplacedTensor(tensor: "e", expectedStart: 4, start: 100, end: 100))
    }

    @Test func rejectsFirstTensorNotAtZero() {
        let file = Self.makeRawFile([("a", "F32", [1], (4, 8))], dataBytes: 8)
        Self.expectRejection(file, .misplacedTensor(tensor: "a", expectedStart: 0, start: 4, end: 8),
                             mentioning: ["'a'", "0"])
    }

    @Test func rejectsTrailingBytesAfterLastTensor() {
        let valid = Self.makeValidFile([.f32("a", [2], [1, 2]), .f32("b", [1], [3])])
        Self.expectRejection(valid + [0, 0, 0, 0], .dataLengthMismatch(tensorBytes: 12, dataBytes: 16),
                             mentioning: ["12", "16"])
        Self.expectRejection(valid + [0], .dataLengthMismatch(tensorBytes: 12, dataBytes: 13))
        // Data with no tensors at all.
        Self.expectRejection(Self.makeFile(header: "{}", data: [1]), .dataLengthMismatch(tensorBytes: 0, dataBytes: 1))
    }

    @Test func rejectsDataSectionShorterThanTensors() {
        let valid = Self.makeValidFile([.f32("a", [2], [1, 2]), .f32("b", [1], [3])])
        Self.expectRejection(Array(valid.dropLast(4)), .dataLengthMismatch(tensorBytes: 12, dataBytes: 8),
                             mentioning: ["12", "8"])
        Self.expectRejection(Array(valid.dropLast(1)), .dataLengthMismatch(tensorBytes: 12, dataBytes: 11))
        // A tensor whose range lies wholly past the end of the file.
        let past = Self.makeRawFile([("a", "F32", [1], (0, 4))], dataBytes: 0)
        Self.expectRejection(past, .dataLengthMismatch(tensorBytes: 4, dataBytes: 0))
    }

    @Test func rejectsShapeProductOverflow() {
        let big = 4_294_967_296
        let file = Self.makeRawFile([("huge", "F32", [big, big, big], (0, 4))], dataBytes: 4)
        Self.expectRejection(file, .sizeOverflow(tensor: "huge"), mentioning: ["'huge'"])
        // The zero comes too late: the reference's checked fold has already overflowed.
        let zeroLast = Self.makeRawFile([("huge", "F32", [big, big, 0], (0, 0))], dataBytes: 0)
        Self.expectRejection(zeroLast, .sizeOverflow(tensor: "huge"))
        // The element count fits but times the dtype size does not.
        let bytesOverflow = Self.makeRawFile([("huge", "F64", [1 << 61], (0, 8))], dataBytes: 8)
        Self.expectRejection(bytesOverflow, .sizeOverflow(tensor: "huge"))
        let maxDim = Self.makeRawFile([("huge", "U8", [Int.max, 2], (0, 1))], dataBytes: 1)
        Self.expectRejection(maxDim, .sizeOverflow(tensor: "huge"))
        // Large but not overflowing: a plain mismatch.
        let large = Self.makeRawFile([("huge", "F32", [1 << 30, 1 << 30], (0, 4))], dataBytes: 4)
        Self.expectRejection(large, .sizeMismatch(tensor: "huge", expectedBytes: 1 << 62, actualBytes: 4))
    }

    // MARK: - Reading values

    @Test func floatsWidenHalfAndDoubleAndRejectIntegersAndMissingNames() throws {
        let st = try SafeTensors(bytes: Self.makeValidFile([
            .f64("double_weights", [2], [1, 2]),
            .i32("int_counts", [3], [1, 2, 3]),
            Entry(name: "half", dtype: "F16", shape: [2], bytes: [0, 0x3C, 0, 0xC0]),
            Entry(name: "brain", dtype: "BF16", shape: [2], bytes: [0x80, 0x3F, 0x20, 0xC0]),
            .f32("ok", [1], [5]),
        ]))
        #expect(try st.floats("double_weights") == [1, 2])
        #expect(try st.floats("half") == [1, -2])
        #expect(try st.floats("brain") == [1, -2.5])
        #expect(try st.floats("ok") == [5])
        let expected = SafeTensorsError.unsupportedDType(tensor: "int_counts", dtype: "I32", expected: "F32, F16, BF16 or F64")
        #expect(throws: expected) { _ = try st.floats("int_counts") }
        #expect(expected.description.contains("'int_counts'") && expected.description.contains("I32"))
        #expect(throws: SafeTensorsError.missingTensor("nope")) { _ = try st.floats("nope") }
        #expect(SafeTensorsError.missingTensor("nope").description.contains("'nope'"))
        #expect(st.info("nope") == nil)
        // Metadata is not a tensor.
        #expect(throws: SafeTensorsError.missingTensor("__metadata__")) { _ = try st.floats("__metadata__") }
        #expect(try st.floats("ok") == [5])
    }

    // MARK: - Fuzzing

    static let jsonTokens: [[UInt8]] = [
        "-1", "1e400", "18446744073709551616", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "4294967296", "0", "-0", "1.5", "2.0", "[", "]", "{", "}", "\"", ",", ":", "null", "true", "\\u0000",
        "\\", "\"__metadata__\"", "\"F32\"", "\"F64\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "[0,0]",
        "[]", "{}", " ", "\u{FEFF}",
    ].map { Array($0.utf8) } + [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0x00], [0x80]]

    static let numberTokens: [String] = [
        "-1", "1e400", "18446744073709551616", "9223372036854775807", "4294967296", "0", "1", "2", "3", "4",
        "8", "12", "16", "24", "1.5", "-0", "100000000", "2305843009213693952",
    ]

    static let dtypeTokens: [String] = [
        "F32", "I32", "U32", "F64", "I64", "U64", "F16", "BF16", "I16", "U8", "I8", "BOOL", "F8_E4M3", "F33",
        "f32", "", "F32 ",
    ]

    /// The header bytes' range, as far as the (possibly mutated) prefix and file allow.
    static func headerRange(_ b: [UInt8]) -> Range<Int>? {
        guard b.count > 8 else { return nil }
        let n = readPrefix(b)
        let end = n > UInt64(b.count - 8) ? b.count : 8 + Int(n)
        return end > 8 ? 8..<end : nil
    }

    /// Replaces `range` (within the header) with `token`, adjusting the prefix by the
    /// change in length when `fixLength`.
    static func splice(_ b: inout [UInt8], _ range: Range<Int>, _ token: [UInt8], fixLength: Bool) {
        let delta = Int64(token.count - range.count)
        b.replaceSubrange(range, with: token)
        if fixLength && b.count >= 8 {
            let n = readPrefix(b) &+ UInt64(bitPattern: delta)
            b.replaceSubrange(0..<8, with: lengthPrefix(n))
        }
    }

    /// Ranges of `needle` in `haystack` within `range`.
    static func occurrences(of needle: [UInt8], in haystack: [UInt8], within range: Range<Int>) -> [Int] {
        guard range.count >= needle.count else { return [] }
        return (range.lowerBound...(range.upperBound - needle.count)).filter {
            haystack[$0..<($0 + needle.count)].elementsEqual(needle)
        }
    }

    /// Applies one random mutation.
    static func mutate(_ b: inout [UInt8], _ rng: inout SplitMix64) {
        switch rng.below(11) {
        case 0:  // flip one bit anywhere
            guard !b.isEmpty else { return }
            b[rng.below(b.count)] ^= UInt8(1) << UInt8(rng.below(8))
        case 1:  // overwrite a few bytes with random values
            guard !b.isEmpty else { return }
            for _ in 0..<(1 + rng.below(4)) { b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next()) }
        case 2:  // truncate
            b.removeLast(rng.below(min(b.count, 32) + 1))
            if rng.below(8) == 0 { b = Array(b.prefix(rng.below(b.count + 1))) }
        case 3:  // append junk
            let zeros = rng.below(2) == 0
            b += (0..<(1 + rng.below(16))).map { _ in zeros ? 0 : UInt8(truncatingIfNeeded: rng.next()) }
        case 4:  // a new length prefix
            guard b.count >= 8 else { b = lengthPrefix(rng.next()) + b; return }
            let current = readPrefix(b)
            let choices: [UInt64] = [
                0, 1, 2, UInt64(b.count), UInt64(b.count - 8), current &+ 1, current &- 1, current &+ 8,
                current &- 8, 100_000_000, 100_000_001, UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64.max,
                UInt64(UInt32.max), UInt64(UInt32.max) + 1, rng.next(), rng.next() >> UInt64(rng.below(64)),
            ]
            b.replaceSubrange(0..<8, with: lengthPrefix(rng.pick(choices)))
        case 5, 6:  // splice a JSON-ish token into the header (keeping the prefix consistent for case 5)
            guard let h = headerRange(b) else { return }
            let at = h.lowerBound + rng.below(h.count + 1)
            let width = rng.below(3) == 0 ? 0 : min(rng.below(4), h.upperBound - at)
            splice(&b, at..<(at + width), rng.pick(jsonTokens), fixLength: rng.below(6) != 5)
        case 7:  // replace a number in the header
            guard let h = headerRange(b) else { return }
            let digits = h.filter { i in
                (b[i] >= 0x30 && b[i] <= 0x39) && (i == h.lowerBound || !(b[i - 1] >= 0x30 && b[i - 1] <= 0x39))
            }
            guard !digits.isEmpty else { return }
            let start = rng.pick(digits)
            var end = start
            while end < h.upperBound && b[end] >= 0x30 && b[end] <= 0x39 { end += 1 }
            splice(&b, start..<end, Array(rng.pick(numberTokens).utf8), fixLength: true)
        case 8:  // replace a dtype
            guard let h = headerRange(b) else { return }
            let marker = Array(#""dtype":""#.utf8)
            let sites = occurrences(of: marker, in: b, within: h)
            guard !sites.isEmpty else { return }
            let start = rng.pick(sites) + marker.count
            guard let end = b[start..<h.upperBound].firstIndex(of: UInt8(ascii: "\"")) else { return }
            splice(&b, start..<end, Array(rng.pick(dtypeTokens).utf8), fixLength: true)
        case 9:  // delete a few header bytes, keeping the prefix consistent
            guard let h = headerRange(b) else { return }
            let at = h.lowerBound + rng.below(h.count)
            splice(&b, at..<min(at + 1 + rng.below(6), h.upperBound), [], fixLength: true)
        default:  // flip a bit in the data section (mostly accepted)
            guard let h = headerRange(b), h.upperBound < b.count else { return }
            let i = h.upperBound + rng.below(b.count - h.upperBound)
            b[i] ^= UInt8(1) << UInt8(rng.below(8))
        }
    }

    /// What is wrong with an accepted file's parse, if anything.
    static func problems(_ st: SafeTensors, _ bytes: [UInt8]) -> [String] {
        var out: [String] = []
        let n = readPrefix(bytes)
        guard n <= SafeTensors.maxHeaderBytes, 8 + Int(n) <= bytes.count else {
            return ["accepted a prefix of \(n) for a \(bytes.count)-byte file"]
        }
        let headerEnd = 8 + Int(n)
        let dataCount = bytes.count - headerEnd
        if bytes[8] != UInt8(ascii: "{") { out.append("accepted a header not starting with '{'") }
        var covered = 0
        var previous: String?
        for t in st.tensors {
            if let previous, !(previous < t.name) { out.append("names not sorted: \(previous), \(t.name)") }
            previous = t.name
            if t.name == "__metadata__" { out.append("__metadata__ read as a tensor") }
            if st.info(t.name) != t { out.append("info('\(t.name)') disagrees with tensors") }
            if t.offsets.lowerBound < 0 || t.offsets.upperBound > dataCount {
                out.append("'\(t.name)' offsets \(t.offsets) outside \(dataCount) data bytes")
                continue
            }
            if t.shape.contains(where: { $0 < 0 }) { out.append("'\(t.name)' negative shape \(t.shape)") }
            let (size, overflow) = t.elementCount.multipliedReportingOverflow(by: t.dtype.size)
            if overflow || size != t.offsets.count {
                out.append("'\(t.name)' spans \(t.offsets.count) bytes for \(t.elementCount) × \(t.dtype.size)")
                continue
            }
            covered += t.offsets.count
            do {
                let values = try st.floats(t.name)
                if ![.F32, .F16, .BF16, .F64].contains(t.dtype) { out.append("floats('\(t.name)') of \(t.dtype) did not throw") }
                if values.count != t.elementCount {
                    out.append("floats('\(t.name)') gave \(values.count) values for \(t.elementCount)")
                } else if t.dtype == .F32 {
                    let base = headerEnd + t.offsets.lowerBound
                    for (i, v) in values.enumerated() {
                        let expected = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[base + 4 * i + $1]) << (8 * $1) }
                        if v.bitPattern != expected {
                            out.append("floats('\(t.name)')[\(i)] is not the file's bits")
                            break
                        }
                    }
                }
            } catch {
                if [.F32, .F16, .BF16, .F64].contains(t.dtype)
                    || error != .unsupportedDType(tensor: t.name, dtype: t.dtype.rawValue, expected: "F32, F16, BF16 or F64") {
                    out.append("floats('\(t.name)') of \(t.dtype) threw \(error)")
                }
            }
        }
        if covered != dataCount { out.append("tensors cover \(covered) of \(dataCount) data bytes") }
        return out
    }

    static func caseName(_ e: SafeTensorsError) -> String {
        switch e {
        case .fileTooSmall: "fileTooSmall"
        case .headerTooLarge: "headerTooLarge"
        case .headerPastEnd: "headerPastEnd"
        case .headerNotUTF8: "headerNotUTF8"
        case .headerNotObject: "headerNotObject"
        case .headerNotJSON: "headerNotJSON"
        case .invalidMetadata: "invalidMetadata"
        case .invalidEntry: "invalidEntry"
        case .unknownDType: "unknownDType"
        case .sizeOverflow: "sizeOverflow"
        case .sizeMismatch: "sizeMismatch"
        case .misplacedTensor: "misplacedTensor"
        case .dataLengthMismatch: "dataLengthMismatch"
        case .missingTensor: "missingTensor"
        case .unsupportedDType: "unsupportedDType"
        case .unreadable: "unreadable"
        }
    }

    @Test func fuzzedFilesAreRejectedOrConsistent() throws {
        let seeds: [[UInt8]] = [
            Self.makeValidFile([
                .f32("b", [2, 3], [-0.0, 1e-38, 3.4e38, 1, 2, 3]),
                .f64("a", [2], [0.5, -1]),
                .i32("c", [], [9]),
            ], metadata: ["format": "pt"], alignHeader: true),
            Self.makeValidFile([
                .f32("w", [4], [1, 2, 3, 4]),
                .f32("v", [1], [7]),
                .f32("e", [0, 2], []),
            ]),
            Self.makeValidFile([
                Entry(name: "x", dtype: "U8", shape: [3], bytes: [1, 2, 3]),
                Entry(name: "y", dtype: "F16", shape: [2, 1], bytes: [0, 0x3C, 0, 0xC0]),
                .f32("z", [], [0.125]),
            ], metadata: ["k": "v", "n": "1"]),
        ]
        for seed in seeds {
            let st = try SafeTensors(bytes: seed)
            #expect(Self.problems(st, seed).isEmpty)
        }

        var rng = SplitMix64(seed: 0x5AFE_7E45_0001)
        var accepted = 0
        var acceptedChanged = 0
        var rejected: [String: Int] = [:]
        var failures: [String] = []
        let iterations = 5000
        for iteration in 0..<iterations {
            let seed = rng.pick(seeds)
            var bytes = seed
            for _ in 0..<(1 + rng.below(3)) { Self.mutate(&bytes, &rng) }
            do {
                let st = try SafeTensors(bytes: bytes)
                accepted += 1
                if bytes != seed { acceptedChanged += 1 }
                for p in Self.problems(st, bytes) where failures.count < 20 {
                    failures.append("mutant \(iteration): \(p)")
                }
            } catch {
                rejected[Self.caseName(error), default: 0] += 1
                switch error {
                case .missingTensor, .unsupportedDType, .unreadable:
                    if failures.count < 20 { failures.append("mutant \(iteration): init threw \(error)") }
                default: break
                }
            }
        }
        let totalRejected = rejected.values.reduce(0, +)
        print("SafeTensors fuzz: \(iterations) mutants, \(accepted) accepted (\(acceptedChanged) changed), "
            + "\(totalRejected) rejected: \(rejected.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })")
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(accepted + totalRejected == iterations)
        #expect(acceptedChanged >= 100, "the fuzzer should produce accepted mutants")
        #expect(totalRejected >= iterations / 3, "the fuzzer should produce many rejected mutants")
        // The mutations reach most of the validation steps.
        #expect(rejected.count >= 10, "\(rejected)")
    }
}
