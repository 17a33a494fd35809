import Foundation
import Testing
import ScoreCore
import ScoreHTTP
import ScoreJSON

/// The Open Inference Protocol (KServe V2) routes, in memory: what they answer, the
/// binary tensor extension both ways, and the errors that name the member at fault.
/// Tests/v2-clients.py runs tritonclient and kserve's client against a live server.
@Suite("Open Inference Protocol (/v2)")
struct OpenInferenceTests {
    static let infer = "/v2/models/gmm-vp/infer"

    /// The objects of a JSON array.
    static func objects(_ list: [JSONValue]) -> [JSONObject] {
        list.compactMap { if case .object(let o) = $0 { o } else { nil } }
    }

    /// Little-endian bytes of Float32 / Float64 values.
    static func bytes(_ values: [Float]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) } }
    static func bytes(_ values: [Double]) -> [UInt8] { values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian, Array.init) } }

    /// A binary-extension body: the JSON header, then `tail`.
    static func binary(_ json: String, _ tail: [UInt8]) -> ([(String, String)], [UInt8]) {
        let header = Array(json.utf8)
        return ([("Inference-Header-Content-Length", String(header.count))], header + tail)
    }

    @Test("server and model metadata, liveness and readiness; another version is a 404")
    func metadata() async throws {
        try await withAPI { s in
            let server = try await s.get("/v2")
            #expect(server.status == 200 && server.object?.string("name") == "scoreserve")
            #expect(try await s.get("/v2/health/live").object?.bool("live") == true)
            #expect(try await s.get("/v2/health/ready").object?.bool("ready") == true)
            let model = try await s.get("/v2/models/gmm-vp")
            let inputs = try #require(model.object?.array("inputs"))
            let x = try #require(Self.objects(inputs).first { $0.string("name") == "x" })
            #expect(x.numbers("shape") == [-1, 2] && x.string("datatype") == "FP32")
            #expect(try await s.get("/v2/models/gmm-vp/versions/1").status == 200)
            #expect(try await s.get("/v2/models/gmm-vp/versions/1/ready").object?.bool("ready") == true)
            let other = try await s.get("/v2/models/gmm-vp/versions/2")
            #expect(other.status == 404 && other.object?.string("error")?.contains("version 1 only") == true)
            let unknown = try await s.get("/v2/models/nope/ready")
            #expect(unknown.status == 404 && unknown.object?.string("error")?.contains("no model named 'nope'") == true)
        }
    }

    @Test("every task answers what /v1 answers to the same request, JSON and binary")
    func tasks() async throws {
        try await withAPI { s in
            let v1 = try await s.post("/v1/models/gmm-vp/sample", #"{"n":3,"seed":5,"steps":20,"sampler":"euler_maruyama"}"#)
            let v2 = try await s.post(Self.infer, #"{"id":"a","parameters":{"n":3,"seed":5,"steps":20,"sampler":"euler_maruyama"},"inputs":[]}"#)
            #expect(v2.status == 200 && v2.object?.string("id") == "a" && v2.object?.string("model_version") == "1")
            let outputs = Self.objects(try #require(v2.object?.array("outputs")))
            let samples = try #require(outputs.first { $0.string("name") == "samples" })
            #expect(samples.numbers("shape") == [3, 2] && samples.string("datatype") == "FP32")
            #expect(samples.numbers("data") == v1.object?.points("samples")?.flatMap { $0 })

            // The same sample, all outputs binary: samples FP32 then nfe INT64 after the JSON.
            let b = try await s.post(Self.infer, #"{"parameters":{"n":3,"seed":5,"steps":20,"sampler":"euler_maruyama","binary_data_output":true},"inputs":[]}"#)
            let length = try #require(b.headers["inference-header-content-length"].flatMap { Int($0) })
            let header = try JSONValue.parse(Array(b.body[0..<length]))
            guard case .object(let o) = header, case .array(let outs)? = o["outputs"] else { Issue.record("no outputs"); return }
            #expect(outs.count == 2 && b.body.count == length + 3 * 2 * 4 + 3 * 8)
            let floats = (0..<6).map { i in
                Float(bitPattern: b.body[(length + 4 * i)..<(length + 4 * i + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            }
            #expect(floats == samples.numbers("data")?.map(Float.init))

            // score with binary inputs (x FP32, t FP64 per point) equals /v1's.
            let (headers, body) = Self.binary(#"""
                {"parameters":{"task":"score"},"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","parameters":{"binary_data_size":16}},{"name":"t","shape":[2],"datatype":"FP64","parameters":{"binary_data_size":16}}]}
                """#, Self.bytes([Float(-2), 0, 2, 1]) + Self.bytes([0.25, 0.75]))
            let score = try await s.request("POST", Self.infer, headers: headers, body: body)
            #expect(score.status == 200, "\(score.text)")
            let v1Score = try await s.post("/v1/models/gmm-vp/score", #"{"x":[[-2,0],[2,1]],"t":[0.25,0.75]}"#)
            let scoreOuts = Self.objects(score.object?.array("outputs") ?? [])
            let scoreOut = try #require(scoreOuts.first)
            #expect(scoreOut.numbers("data") == v1Score.object?.points("score")?.flatMap { $0 })

            // likelihood and encode: the outputs named, in the order asked.
            let ll = try await s.post(Self.infer, #"""
                {"parameters":{"task":"likelihood","seed":2},"inputs":[{"name":"x","shape":[1,2],"datatype":"FP64","data":[[-2,0]]}],"outputs":[{"name":"nfe"},{"name":"bits_per_dim"}]}
                """#)
            let names = Self.objects(try #require(ll.object?.array("outputs"))).compactMap { $0.string("name") }
            #expect(names == ["nfe", "bits_per_dim"])
            let v1LL = try await s.post("/v1/models/gmm-vp/likelihood", #"{"x":[[-2,0]],"seed":2}"#)
            #expect(Self.objects(ll.object?.array("outputs") ?? []).last?.numbers("data") == v1LL.object?.numbers("bits_per_dim"))
            let enc = try await s.post(Self.infer, #"{"parameters":{"task":"encode"},"inputs":[{"name":"x","shape":[1,2],"datatype":"INT32","data":[2,1]}]}"#)
            #expect(enc.status == 200 && Self.objects(enc.object?.array("outputs") ?? []).first?.string("datatype") == "FP64")
        }
    }

    @Test("bad requests name the member at fault, with /v1's statuses and the protocol's error shape")
    func errors() async throws {
        try await withAPI { s in
            let cases: [(String, [String])] = [
                (#"{"inputs":[],"parameters":{"task":"train"}}"#, ["parameters.task"]),
                (#"{"inputs":[],"parameters":{"n":0}}"#, ["n: must be between"]),
                (#"{"inputs":[],"parameters":{"bogus":1}}"#, ["parameters.bogus", "not a parameter of task sample"]),
                (#"{"inputs":[],"parameters":{"task":"score","x":1}}"#, ["parameters.x", "input tensor"]),
                (#"{"inputs":[],"parameters":{"task":"score"}}"#, ["'x' is required"]),
                (#"{"inputs":[{"name":"y","shape":[1,2],"datatype":"FP32","data":[1,2]}]}"#, ["'y' is not an input of task sample"]),
                (#"{"parameters":{"task":"score"},"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]},{"name":"t","shape":[1],"datatype":"FP64","data":[0.5]}]}"#,
                 ["x: shape [1, 3] must be [n] + [2] or [n, 2]"]),
                (#"{"parameters":{"task":"score"},"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3]}]}"#,
                 ["input 'x'", "holds 3 elements, shape [2, 2] needs 4"]),
                (#"{"parameters":{"task":"score"},"inputs":[{"name":"x","shape":[1,2],"datatype":"BYTES","data":["a","b"]}]}"#, ["not numeric"]),
                (#"{"inputs":[],"outputs":[{"name":"log_likelihood"}]}"#, ["needs the parameter log_likelihood: true"]),
                (#"{"inputs":[],"outputs":[{"name":"score"}]}"#, ["'score' is not an output of task sample"]),
                (#"{"inputs":[],"extra":1}"#, ["extra", "unknown member"]),
                (#"{"parameters":{}}"#, ["inputs", "is required"]),
                ("[1]", ["must be a JSON object"]),
            ]
            for (body, words) in cases {
                let r = try await s.post(Self.infer, body)
                #expect(r.status == 400, "\(body): \(r.status)")
                let message = r.object?.string("error") ?? ""
                for word in words { #expect(message.contains(word), "\(body): '\(word)' not in \(message)") }
            }
            // Binary bodies: a header length past the body, a size that is not the shape's, trailing bytes.
            let x = #"{"parameters":{"task":"score"},"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":SIZE}},{"name":"t","shape":[1],"datatype":"FP64","data":[0.5]}]}"#
            for (size, tail, words) in [("8", [UInt8](repeating: 0, count: 4), ["past the end"]),
                                        ("4", [UInt8](repeating: 0, count: 4), ["binary_data_size 4 is not 2 FP32 elements"]),
                                        ("8", [UInt8](repeating: 0, count: 12), ["4 bytes after the JSON"])] {
                let (headers, body) = Self.binary(x.replacingOccurrences(of: "SIZE", with: size), tail)
                let r = try await s.request("POST", Self.infer, headers: headers, body: body)
                #expect(r.status == 400)
                for word in words { #expect(r.text.contains(word), "\(word) not in \(r.text)") }
            }
            let past = try await s.request("POST", Self.infer, headers: [("Inference-Header-Content-Length", "9999")], body: Array("{}".utf8))
            #expect(past.status == 400 && past.text.contains("past the body"))
            // Untyped and octet-stream bodies are the protocol's clients'; form types are refused.
            let untyped = try await s.request("POST", Self.infer, body: Array(#"{"inputs":[],"parameters":{"steps":5}}"#.utf8))
            #expect(untyped.status == 200)
            for type in ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"] {
                let r = try await s.request("POST", Self.infer, headers: [("Content-Type", type)], body: Array("{}".utf8))
                #expect(r.status == 415 && r.object?.string("error")?.contains("application/octet-stream") == true, "\(type)")
            }
            // Shapes a client controls: an overflowing product hidden by a later 0, a huge
            // count with no data, a NaN in binary data: 400s, never a trap or a huge allocation.
            let twos = Array(repeating: "2", count: 63).joined(separator: ",")
            let hidden = try await s.post(Self.infer, #"{"inputs":[{"name":"latents","datatype":"FP32","shape":[1,"# + twos + #",0],"data":[]}]}"#)
            #expect(hidden.status == 400 && hidden.text.contains("more than"), "\(hidden.text)")
            let empty = try await s.post(Self.infer, #"{"parameters":{"task":"score"},"inputs":[{"name":"x","datatype":"FP32","shape":[100000,2],"data":[]}]}"#)
            #expect(empty.status == 400 && empty.text.contains("holds 0 elements"), "\(empty.text)")
            let (nanHeaders, nanBody) = Self.binary(#"""
                {"parameters":{"task":"score"},"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}},{"name":"t","shape":[1],"datatype":"FP64","data":[0.5]}]}
                """#, Self.bytes([Float.nan, 0]))
            let nan = try await s.request("POST", Self.infer, headers: nanHeaders, body: nanBody)
            #expect(nan.status == 400 && nan.text.contains("finite"), "\(nan.text)")
            // A deadline that passes mid-work (the protocol's timeout, in µs): 504 in the protocol's shape.
            let late = try await s.post(Self.infer, #"{"inputs":[],"parameters":{"n":2000,"steps":1000,"timeout":1000}}"#)
            #expect(late.status == 504 && late.object?.string("error")?.contains("deadline") == true, "\(late.status) \(late.text)")
            // Paths and methods the router does not know, under /v2: the protocol's shape too.
            let noRoute = try await s.get("/v2/models/gmm-vp/versions/1/nope")
            #expect(noRoute.status == 404 && noRoute.object?.string("error")?.contains("no route") == true)
            let method = try await s.get(Self.infer)
            #expect(method.status == 405 && method.object?.string("error") != nil)
            let missing = try await s.post("/v2/models/nope/infer", #"{"inputs":[]}"#)
            #expect(missing.status == 404 && missing.object?.string("error") == "no model named 'nope'")
        }
    }
}
