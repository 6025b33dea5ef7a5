"""The `gru-infer` command line."""
from __future__ import annotations

import argparse
import sys


def _info(args) -> int:
    import gru_infer
    m = gru_infer.load(args.file)
    print(f"file: {args.file}")
    print(f"source: {m.source or 'unknown'}")
    print(f"input: {'ids' if m.takes_ids else f'{m.input_size} features'} per step; output: {m.output_size}")
    for i, layer in enumerate(m.layers):
        print(f"  layer {i}: {_describe(layer)}")
    print(f"parameters: {m.num_parameters} ({m.num_parameters * 4} weight bytes as float32)")
    return 0


def _describe(layer) -> str:
    from . import layers as L
    if isinstance(layer, L.GRU):
        return (f"GRU {layer.input_size} -> {layer.hidden_size}, {layer.direction}, "
                f"{'linear_before_reset' if layer.linear_before_reset else 'reset before matmul'}, "
                f"{'bias' if layer.has_bias else 'no bias'}"
                + ("" if layer.return_sequences else ", final state only"))
    if isinstance(layer, L.Dense):
        return f"Dense {layer.weight.shape[1]} -> {layer.weight.shape[0]}"
    if isinstance(layer, L.ActivationLayer):
        return f"Activation {layer.activation.kind}"
    if isinstance(layer, L.Embedding):
        return f"Embedding {layer.table.shape[0]} x {layer.table.shape[1]}"
    return type(layer).__name__


def _convert(args) -> int:
    import gru_infer
    m = gru_infer.load(args.file)
    m.save(args.output)
    print(f"wrote {args.output}")
    return 0


def _demo(args) -> int:
    from .demo import main as demo_main
    return demo_main()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="gru-infer", description="Fast, exact CPU inference for GRU networks")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the shipped vibration-forecasting model").set_defaults(fn=_demo)
    q = sub.add_parser("info", help="layers, sizes and parameter count of a model file")
    q.add_argument("file")
    q.set_defaults(fn=_info)
    q = sub.add_parser("convert", help="convert a model file to the native format")
    q.add_argument("file")
    q.add_argument("-o", "--output", required=True)
    q.set_defaults(fn=_convert)
    args = p.parse_args(argv)
    try:
        return args.fn(args)
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"gru-infer: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
