extension ScoreNet {
    /// Builds the network from the tutorial's `state_dict` in a safetensors file: channel
    /// counts and E are read from the tensors (and checked against `channels` /
    /// `embedDim` when config.json gives them), every shape is checked, and the image
    /// size (`data.shape` = [C, H, W]) must fit the U-Net's strides (28 × 28 does).
    static func load(_ file: SafeTensors, path: String, sde: SDE, shape: [Int],
                     channels given: [Int]?, embedDim givenE: Int?) throws(ModelLoadError) -> ScoreNet {
        let dict = try StateDict(file, path: path)
        guard shape.count == 3, shape.allSatisfy({ $0 >= 1 }) else {
            throw ModelLoadError(file: path, subject: "data.shape",
                                 "network 'scorenet' needs [channels, height, width], got \(shape)")
        }
        let (cin, height, width) = (shape[0], shape[1], shape[2])
        var c: [Int] = []
        for name in ["conv1.weight", "conv2.weight", "conv3.weight", "conv4.weight"] {
            let s = try dict.shape(name)
            guard s.count == 4, s[0] >= 1 else { throw dict.error(name, "shape \(s), expected [out, in, 3, 3]") }
            c.append(s[0])
        }
        let embedShape = try dict.shape("embed.1.weight")
        guard embedShape.count == 2, embedShape[0] == embedShape[1], embedShape[0] >= 2, embedShape[0] % 2 == 0 else {
            throw dict.error("embed.1.weight", "shape \(embedShape), expected [E, E] with E even")
        }
        let e = embedShape[0]
        if let given, given != c {
            throw ModelLoadError(file: path, subject: "network.channels", "config.json says \(given) but the tensors give \(c)")
        }
        if let givenE, givenE != e {
            throw ModelLoadError(file: path, subject: "network.embed_dim", "config.json says \(givenE) but the tensors give \(e)")
        }
        for (k, channels) in [c[0], c[1], c[2], c[3], c[2], c[1], c[0]].enumerated() where channels % groups[k] != 0 {
            throw ModelLoadError(file: path, subject: "tensor '\(normNames[k]).weight'",
                                 "\(channels) channels do not split into GroupNorm's \(groups[k]) groups")
        }

        // Encoder sides, and the decoder must land on the skips' sides.
        let s1 = (h: height - 2, w: width - 2)
        let s2 = (h: Convolution.convolvedSize(s1.h, stride: 2), w: Convolution.convolvedSize(s1.w, stride: 2))
        let s3 = (h: Convolution.convolvedSize(s2.h, stride: 2), w: Convolution.convolvedSize(s2.w, stride: 2))
        let s4 = (h: Convolution.convolvedSize(s3.h, stride: 2), w: Convolution.convolvedSize(s3.w, stride: 2))
        func up(_ s: (h: Int, w: Int), _ padding: Int) -> (h: Int, w: Int) {
            (Convolution.transposedSize(s.h, stride: 2, outputPadding: padding),
             Convolution.transposedSize(s.w, stride: 2, outputPadding: padding))
        }
        guard s4.h >= 1, s4.w >= 1, up(s4, 0) == s3, up(s3, 1) == s2, up(s2, 1) == s1 else {
            throw ModelLoadError(file: path, subject: "data.shape",
                                 "\(height) × \(width) images do not fit the ScoreNet U-Net's strides (28 × 28 does)")
        }

        var storage: [Float] = []
        var at = Offsets()
        func append(_ name: String, _ expected: [Int]) throws(ModelLoadError) -> Int {
            let offset = storage.count
            storage += try dict.values(name, expected)
            return offset
        }
        at.fourier = try append("embed.0.W", [e / 2])
        at.embedWeight = try append("embed.1.weight", [e, e])
        at.embedBias = try append("embed.1.bias", [e])
        let levelChannels = [c[0], c[1], c[2], c[3], c[2], c[1], c[0]]
        // The seven dense layers stacked: one matrix-vector product gives every shift.
        var denseRow = 0
        at.denseWeight = storage.count
        for (k, channels) in levelChannels.enumerated() {
            at.dense.append(denseRow)
            denseRow += channels
            _ = try append("dense\(k + 1).dense.weight", [channels, e])
        }
        at.denseBias = storage.count
        for (k, channels) in levelChannels.enumerated() { _ = try append("dense\(k + 1).dense.bias", [channels]) }
        at.conv = [try append("conv1.weight", [c[0], cin, 3, 3]), try append("conv2.weight", [c[1], c[0], 3, 3]),
                   try append("conv3.weight", [c[2], c[1], 3, 3]), try append("conv4.weight", [c[3], c[2], 3, 3])]
        at.tconv = [try append("tconv4.weight", [c[3], c[2], 3, 3]), try append("tconv3.weight", [2 * c[2], c[1], 3, 3]),
                    try append("tconv2.weight", [2 * c[1], c[0], 3, 3]), try append("tconv1.weight", [2 * c[0], cin, 3, 3])]
        at.tconv1Bias = try append("tconv1.bias", [cin])
        for (k, channels) in levelChannels.enumerated() {
            at.gamma.append(try append("\(normNames[k]).weight", [channels]))
            at.beta.append(try append("\(normNames[k]).bias", [channels]))
        }

        var expected: Set<String> = ["embed.0.W", "embed.1.weight", "embed.1.bias", "tconv1.bias"]
        for k in 1...7 { expected.formUnion(["dense\(k).dense.weight", "dense\(k).dense.bias"]) }
        for k in 1...4 { expected.formUnion(["conv\(k).weight", "tconv\(k).weight"]) }
        for name in normNames { expected.formUnion(["\(name).weight", "\(name).bias"]) }
        try dict.rejectUnexpected(expected, network: "scorenet")

        return ScoreNet(sde: sde, inputChannels: cin, height: height, width: width, channels: c, embedDim: e,
                        storage: storage, offsets: at, sides: [s1, s2, s3, s4])
    }

    /// The GroupNorms in evaluation order.
    static let normNames = ["gnorm1", "gnorm2", "gnorm3", "gnorm4", "tgnorm4", "tgnorm3", "tgnorm2"]
}
