"""Write the seed corpus of the native-file fuzz target (csrc/fuzz/fuzz_native_memory.cpp) with the
project's own writer: small models covering every layer kind, both GRU weight storages, both reset
placements, bidirectional merges, ids, a model without a time axis, GRU initial states (version 4),
InputSkip and Affine layers, reduced-precision GRU and Dense weights (version 3: int8 with dynamic and
calibrated input scales, bf16, fp16; Model.quantize), and one version-1 file.
Run once (needs no framework); the files go to tests/data/fuzz/corpus/native_memory/.

    python tools/make_fuzz_seeds.py
"""
import struct
from pathlib import Path

import numpy as np

import gru_infer
from gru_infer import layers as L

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "fuzz" / "corpus" / "native_memory"
rng = np.random.default_rng(0)


def gru(I, H, dirs=1, **kw):
    d = [L.GRUDirection(rng.standard_normal((3 * H, I)) * 0.3, rng.standard_normal((3 * H, H)) * 0.3,
                        rng.standard_normal(3 * H) * 0.1, rng.standard_normal(3 * H) * 0.1) for _ in range(dirs)]
    return L.GRU(I, H, d, **kw)


def dense(i, o):
    return L.Dense(rng.standard_normal((o, i)) * 0.3, rng.standard_normal(o) * 0.1)


def act(kind, a=0.0, b=0.0):
    return L.ActivationLayer(L.Activation(kind, a, b))


MODELS = {
    "gru_packed": [gru(3, 5)],
    "gru_dense_softmax": [gru(2, 9), L.LastStep(), dense(9, 3), act("softmax")],
    "gru_cho_generic": [gru(4, 3, linear_before_reset=False, gate_activation=L.Activation("hard_sigmoid", 0.2, 0.5),
                            candidate_activation=L.Activation("scaled_tanh", 1.5, 0.7), clip=3.0)],
    "bidirectional_concat": [gru(3, 4, 2, direction="bidirectional"), dense(8, 2)],
    "bidirectional_ave_final": [gru(2, 3, 2, direction="bidirectional", merge_mode="ave", return_sequences=False)],
    "reverse_go_backwards": [gru(2, 4, direction="reverse", reverse_output_in_processing_order=True)],
    "embedding_gru": [L.Embedding(rng.standard_normal((7, 3))), gru(3, 4, return_sequences=False), dense(4, 2),
                      act("log_softmax")],
    "two_grus_activations": [gru(1, 8), gru(8, 2, linear_before_reset=False), act("leaky_relu", 0.1), act("elu", 1.0),
                             act("affine", 2.0, -1.0), act("thresholded_relu", 0.2)],
    "dense_only": [dense(3, 2), act("hard_sigmoid", 0.2, 0.5)],
    # format version 4: GRU default initial states (an ONNX constant initial_h), packed and plain storage
    "gru_initial_state": [gru(3, 4, 2, direction="bidirectional", initial_state=rng.standard_normal((2, 4))),
                          gru(8, 3, linear_before_reset=False, gate_activation=L.Activation("hard_sigmoid", 0.2, 0.5),
                              initial_state=rng.standard_normal((1, 3)))],
    # InputSkip (a skip from the model input, at an offset) and Affine (BatchNormalization) layers
    "input_skip": [gru(3, 4), dense(4, 2), L.InputSkip(1)],
    "affine_batchnorm": [L.Affine(rng.standard_normal(3), rng.standard_normal(3)), gru(3, 5),
                         L.Affine(rng.standard_normal(5), rng.standard_normal(5)), dense(5, 2)],
}

# format version 3: the same writer after Model.quantize(kind, **options); drawn after MODELS, so that
# the files above keep their bytes.
QUANTIZED = {
    "quant_int8_dynamic": ([gru(3, 8), dense(8, 4), act("softmax")], "int8", {}),
    "quant_int8_calibrated": ([gru(2, 5, 2, direction="bidirectional"), L.LastStep(), dense(10, 3)], "int8",
                              {"calibration": rng.standard_normal((2, 6, 2))}),
    "quant_bf16": ([L.Affine(rng.standard_normal(3), rng.standard_normal(3)), gru(3, 6), dense(6, 3),
                    L.InputSkip(0)], "bf16", {}),
    "quant_fp16_ids": ([L.Embedding(rng.standard_normal((5, 3))), gru(3, 4, direction="reverse"), dense(4, 2)],
                       "fp16", {}),
    # a quantized GRU with a default initial state (versions 3 and 4), then a GRU with a generic gate
    # activation (kept in fp32: plain storage in a version 3 file) and a Dense kept fp32 (format 0)
    "quant_int8_mixed": ([gru(2, 4, initial_state=rng.standard_normal((1, 4))),
                          gru(4, 3, gate_activation=L.Activation("hard_sigmoid", 0.2, 0.5)), dense(3, 3), dense(3, 2)],
                         "int8", {"keep_fp32": [2]}),
}


def version1(data: bytes) -> bytes:
    """The same file as format version 1: no GRU `storage` field. For a model whose only GRU is
    its first layer and uses the plain storage: that field sits at a fixed offset."""
    meta_size = struct.unpack_from("<Q", data, 24)[0]
    source_len = struct.unpack_from("<I", data, 64)[0]
    at = 64 + 4 + source_len + 4 + 12 + 7 * 4 + 2 * 12 + 4  # str, count, kind/in/out, 7 u32, 2 act, clip
    assert struct.unpack_from("<I", data, at)[0] == 0, "storage field of a plain-storage GRU"
    out = bytearray(data[:at] + data[at + 4:64 + meta_size] + b"\0" * 4 + data[64 + meta_size:])
    struct.pack_into("<I", out, 8, 1)
    struct.pack_into("<Q", out, 24, meta_size - 4)
    h = 0xcbf29ce484222325
    for byte in out[64:]:
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    struct.pack_into("<Q", out, 48, h)
    return bytes(out)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for name, layers in MODELS.items():
        model = gru_infer.Model.from_layers(layers, source="fuzz-seed")
        data = model.to_bytes()
        (OUT / f"{name}.gru").write_bytes(data)
        if name == "gru_cho_generic":
            v1 = version1(data)
            assert gru_infer.Model(gru_infer._core.Model.from_bytes(v1)).predict(np.ones((1, 2, 4))).shape == (1, 2, 3)
            (OUT / f"{name}_v1.gru").write_bytes(v1)
    for name, (layers, kind, options) in QUANTIZED.items():
        model = gru_infer.Model.from_layers(layers, source="fuzz-seed").quantize(kind, **options)
        data = model.to_bytes()
        assert struct.unpack_from("<I", data, 8)[0] >= 3, name
        (OUT / f"{name}.gru").write_bytes(data)
    print(f"wrote {len(list(OUT.iterdir()))} seeds to {OUT}")


if __name__ == "__main__":
    main()
