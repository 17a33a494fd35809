import ScoreJSON

extension WorkloadMeasurement {
    /// The measurement as one JSON object (child → parent, and the bench's JSON report).
    public var json: JSONObject {
        JSONObject([
            "id": .string(id), "threads": .integer(Int64(threads)), "seconds": .number(seconds),
            "items": .integer(Int64(items)), "nfe": .integer(Int64(nfe)), "flops": .number(flops),
            "roofline_gflops": .number(rooflineGFLOPs), "roofline_4row_gflops": .number(rooflineSmallGFLOPs),
            "gflops": .number(gflops), "ratio": .number(ratio),
            "base_rss": .integer(Int64(baseRSS)), "peak_rss": .integer(Int64(peakRSS)),
        ])
    }

    public init(json o: JSONObject) throws {
        func number(_ key: String) throws -> Double {
            guard let v = o[key]?.doubleValue else { throw BenchError("measurement lacks '\(key)'") }
            return v
        }
        guard case .string(let id)? = o["id"] else { throw BenchError("measurement lacks 'id'") }
        self.init(id: id, threads: Int(try number("threads")), seconds: try number("seconds"),
                  items: Int(try number("items")), nfe: Int(try number("nfe")), flops: try number("flops"),
                  rooflineGFLOPs: try number("roofline_gflops"), rooflineSmallGFLOPs: try number("roofline_4row_gflops"),
                  baseRSS: Int(try number("base_rss")), peakRSS: Int(try number("peak_rss")))
    }
}
