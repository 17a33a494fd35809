#!/usr/bin/env python3
"""The Open Inference Protocol (KServe V2) routes against the real clients from PyPI (run
by `make test`, which installs them into a venv; loopback only).

A `scoreserve serve` of the shipped models (Models/) on a free port, then:
  - tritonclient.http: server liveness, readiness and metadata; model readiness and
    metadata; `infer` for every task (sample, likelihood, encode, score), each with JSON
    tensors and with binary ones (tritonclient's default: binary outputs, and inputs
    set with binary_data=True), every answer equal to the `/v1` answer to the same
    request (same seed: same numbers); an unknown model and a bad parameter raise
    InferenceServerException with the server's message.
  - kserve's InferenceRESTClient, protocol v2: server liveness and readiness, model
    readiness, and `infer` (JSON and binary inputs), equal to `/v1`.

Usage: Tests/v2-clients.py   (SCORESERVE_BIN: the binary, default .build/debug/scoreserve)
"""
import asyncio
import json
import os
import sys
import tempfile

import numpy as np
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from replicas import BIN, Failed, Replica, free_port, request

GMM, DIGITS = "gmm-demo", "digits-vp"


def say(message):
    print(f"v2-clients: {message}", flush=True)


def check(condition, message):
    if not condition:
        raise Failed(message)


def v1(port, model, operation, body):
    status, answer = request(port, "POST", f"/v1/models/{model}/{operation}", body)
    check(status == 200, f"/v1 {operation}: {status} {answer[:200]!r}")
    return json.loads(answer)


def triton_checks(port):
    client = triton.InferenceServerClient(url=f"127.0.0.1:{port}")
    check(client.is_server_live(), "tritonclient: server not live")
    check(client.is_server_ready(), "tritonclient: server not ready")
    check(client.is_model_ready(GMM), "tritonclient: model not ready")
    meta = client.get_server_metadata()
    check(meta["name"] == "scoreserve" and "binary_tensor_data" in meta["extensions"], f"server metadata {meta}")
    model = client.get_model_metadata(GMM)
    inputs = {t["name"]: t for t in model["inputs"]}
    check(inputs["x"]["shape"] == [-1, 2] and inputs["x"]["datatype"] == "FP32", f"model metadata {model}")
    check(client.is_model_ready(GMM, model_version="1") and not _ready(client, GMM, "2"), "model versions")

    for binary in (False, True):
        kind = "binary" if binary else "JSON"
        outputs = None if binary else [triton.InferRequestedOutput(n, binary_data=False) for n in ("samples", "nfe")]
        # sample: no inputs; the parameters are /v1's fields.
        params = {"n": 5, "seed": 7, "sampler": "euler_maruyama", "steps": 50}
        r = client.infer(GMM, [], outputs=outputs, parameters=params, request_id="s1")
        ref = v1(port, GMM, "sample", params)
        samples = r.as_numpy("samples")
        check(samples.dtype == np.float32 and samples.shape == (5, 2), f"{kind} sample: {samples.dtype} {samples.shape}")
        check(np.array_equal(samples, np.array(ref["samples"], dtype=np.float32)), f"{kind} sample differs from /v1")
        check(list(r.as_numpy("nfe")) == ref["nfe"], f"{kind} sample nfe")
        check(r.get_response()["id"] == "s1" and r.get_response()["parameters"]["seed"] == 7, "sample id and seed")

        # likelihood of 8-bit digits (binary inputs when `binary`), dequantized, bits/dim.
        x = np.arange(3 * 64, dtype=np.float32).reshape(3, 8, 8) % 17
        xin = triton.InferInput("x", list(x.shape), "FP32")
        xin.set_data_from_numpy(x, binary_data=binary)
        params = {"task": "likelihood", "seed": 3, "dequantize": 1, "rtol": 1e-3, "atol": 1e-3}
        r = client.infer(DIGITS, [xin], parameters=params)
        ref = v1(port, DIGITS, "likelihood", {"x": x.tolist(), "seed": 3, "dequantize": 1, "rtol": 1e-3, "atol": 1e-3})
        check(np.array_equal(r.as_numpy("bits_per_dim"), np.array(ref["bits_per_dim"])), f"{kind} likelihood bits/dim")
        check(np.array_equal(r.as_numpy("latents"), np.array(ref["latents"])), f"{kind} likelihood latents")

        # encode, then score at per-point times (FP64 t).
        pts = np.array([[-2.0, 0.0], [2.0, 1.0]], dtype=np.float32)
        xin = triton.InferInput("x", [2, 2], "FP32")
        xin.set_data_from_numpy(pts, binary_data=binary)
        r = client.infer(GMM, [xin], parameters={"task": "encode", "rtol": 1e-4, "atol": 1e-4})
        ref = v1(port, GMM, "encode", {"x": pts.tolist(), "rtol": 1e-4, "atol": 1e-4})
        check(np.array_equal(r.as_numpy("latents"), np.array(ref["latents"])), f"{kind} encode")
        tin = triton.InferInput("t", [2], "FP64")
        tin.set_data_from_numpy(np.array([0.25, 0.75]), binary_data=binary)
        r = client.infer(GMM, [xin, tin], parameters={"task": "score"})
        ref = v1(port, GMM, "score", {"x": pts.tolist(), "t": [0.25, 0.75]})
        check(np.array_equal(r.as_numpy("score"), np.array(ref["score"], dtype=np.float32)), f"{kind} score")
        say(f"tritonclient {kind}: sample, likelihood, encode, score equal /v1")

    for model, params, words in [("nope", {}, "no model named 'nope'"),
                                 (GMM, {"n": 0}, "n: must be between"),
                                 (GMM, {"task": "score"}, "'x' is required")]:
        try:
            client.infer(model, [], parameters=params)
            raise Failed(f"tritonclient: {model} {params} did not fail")
        except InferenceServerException as e:
            check(words in str(e), f"tritonclient error {e} lacks {words!r}")
    say("tritonclient: health, metadata, readiness and errors as the protocol says")


def _ready(client, model, version):
    try:
        return client.is_model_ready(model, model_version=version)
    except InferenceServerException:
        return False


async def kserve_checks(port):
    from kserve import InferenceRESTClient, InferRequest, InferInput, RESTConfig
    client = InferenceRESTClient(RESTConfig(protocol="v2"))
    base = f"http://127.0.0.1:{port}"
    try:
        check(await client.is_server_live(base), "kserve: server not live")
        check(await client.is_server_ready(base), "kserve: server not ready")
        check(await client.is_model_ready(base, GMM), "kserve: model not ready")
        pts = np.array([[-2.0, 0.0], [2.0, 1.0], [0.5, 0.5]], dtype=np.float32)
        ref = v1(port, GMM, "likelihood", {"x": pts.tolist(), "seed": 11})
        for binary in (False, True):
            xin = InferInput("x", list(pts.shape), "FP32")
            xin.set_data_from_numpy(pts, binary_data=binary)
            req = InferRequest(model_name=GMM, infer_inputs=[xin], parameters={"task": "likelihood", "seed": 11})
            res = await client.infer(base, req, model_name=GMM)
            by = {o.name: o.as_numpy() for o in res.outputs}
            check(np.array_equal(by["log_likelihood"], np.array(ref["log_likelihood"])),
                  f"kserve {'binary' if binary else 'JSON'} likelihood differs from /v1")
        say("kserve InferenceRESTClient v2: health, readiness, likelihood (JSON and binary) equal /v1")
    finally:
        await client.close()


def main():
    if not os.access(BIN, os.X_OK):
        say(f"FAILED: no scoreserve binary at {BIN} (build first)")
        return 1
    log = open(os.path.join(tempfile.mkdtemp(prefix="scoreserve-v2-"), "server.log"), "w")
    server = Replica(free_port(), log)
    try:
        server.start()
        triton_checks(server.port)
        asyncio.run(kserve_checks(server.port))
        server.stop()
    except Failed as e:
        say(f"FAILED: {e}")
        return 1
    finally:
        server.kill()
    say("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
