extension MLP {
    /// Builds the network from a safetensors file, reading H, L, E and D from the
    /// tensor shapes and checking every shape against the format's formulas.
    ///
    /// A leading `module.` (DataParallel) is stripped from every name; a tensor the
    /// format does not name is an error, as in PyTorch's strict `load_state_dict`.
    static func load(_ file: SafeTensors, path: String, sde: SDE, dimension: Int,
                     hidden: Int?, blocks: Int?, embedDim: Int?) throws(ModelLoadError) -> MLP {
        let dict = try StateDict(file, path: path)
        let tensorError = dict.error, shape = dict.shape, values = dict.values

        let embedShape = try shape("embed.1.weight")
        guard embedShape.count == 2, embedShape[0] == embedShape[1], embedShape[0] >= 2, embedShape[0] % 2 == 0 else {
            throw tensorError("embed.1.weight", "shape \(embedShape), expected [E, E] with E even")
        }
        let e = embedShape[0]
        let inShape = try shape("proj_in.weight")
        guard inShape.count == 2, inShape[0] >= 1 else {
            throw tensorError("proj_in.weight", "shape \(inShape), expected [H, D]")
        }
        let h = inShape[0], d = inShape[1]
        guard d == dimension else {
            throw tensorError("proj_in.weight", "shape \(inShape) takes D = \(d) inputs, but data.shape has \(dimension) values")
        }
        var l = 0
        while dict.contains("blocks.\(l).dense.weight") || dict.contains("blocks.\(l).temb.weight") { l += 1 }

        for (key, given, found) in [("hidden", hidden, h), ("blocks", blocks, l), ("embed_dim", embedDim, e)] {
            if let given, given != found {
                throw ModelLoadError(file: path, subject: "network.\(key)",
                                     "config.json says \(given) but the tensors give \(found)")
            }
        }

        var expected: Set<String> = ["embed.0.W", "embed.1.weight", "embed.1.bias", "proj_in.weight",
                                     "proj_in.bias", "proj_out.weight", "proj_out.bias"]
        for i in 0..<l {
            for part in ["temb.weight", "temb.bias", "dense.weight", "dense.bias"] { expected.insert("blocks.\(i).\(part)") }
        }
        try dict.rejectUnexpected(expected, network: "mlp")

        var tensors = MLP.Tensors(
            fourier: try values("embed.0.W", [e / 2]),
            embedWeight: try values("embed.1.weight", [e, e]), embedBias: try values("embed.1.bias", [e]),
            inWeight: try values("proj_in.weight", [h, d]), inBias: try values("proj_in.bias", [h]),
            tembWeight: [], tembBias: [], denseWeight: [], denseBias: [],
            outWeight: try values("proj_out.weight", [d, h]), outBias: try values("proj_out.bias", [d]))
        for i in 0..<l {
            tensors.tembWeight.append(try values("blocks.\(i).temb.weight", [h, e]))
            tensors.tembBias.append(try values("blocks.\(i).temb.bias", [h]))
            tensors.denseWeight.append(try values("blocks.\(i).dense.weight", [h, h]))
            tensors.denseBias.append(try values("blocks.\(i).dense.bias", [h]))
        }
        return MLP(sde: sde, dimension: d, hidden: h, blocks: l, embedDim: e, tensors: tensors)
    }
}
