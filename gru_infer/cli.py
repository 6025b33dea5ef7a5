"""The `gru-infer` command line."""
from __future__ import annotations

import argparse
import json
import math
import sys


def _info(args) -> int:
    import gru_infer

    from .layers import describe_layer
    if args.rest:
        from .hybrid_report import partition_report
        h = gru_infer.load(args.file, rest=args.rest)
        print(f"file: {args.file}")
        print(f"source: onnx ({h.info.get('producer') or 'unknown producer'}, opset {h.info.get('opset')})")
        for line in partition_report(args.file, h, args.batch or 1, args.steps or 100):
            print(line)
        return 0
    if args.batch or args.steps:
        raise ValueError("--batch / --steps are the sizes of info --rest's multiply-add estimate")
    m = gru_infer.load(args.file)
    print(f"file: {args.file}")
    print(f"source: {m.source or 'unknown'} ({m.info.get('format', 'native')})")
    for note in m.info.get("assumed", []) or []:
        print(f"assumed: {note}")
    print(f"input: {'ids' if m.takes_ids else f'{m.input_size} features'} per step; output: {m.output_size}")
    formats = [d.get("weight_format") for d in m._core.describe(with_weights=False)]
    for i, layer in enumerate(m.layers):
        print(f"  layer {i}: {describe_layer(layer)}" + (f", {formats[i]} weights" if formats[i] else ""))
    print(f"weight format: {m.weight_format}")
    print(f"parameters: {m.num_parameters} ({m.num_parameters * 4} weight bytes as float32)")
    print(f"state per sequence: {m.state_shape(1)}")
    return 0


def _convert(args) -> int:
    import gru_infer
    if not args.output and not args.c_array:
        raise ValueError("convert needs -o OUT.gru and/or --c-array HEADER.h")
    m = gru_infer.load(args.file)
    if args.output:
        m.save(args.output)
        print(f"wrote {args.output}")
    if args.c_array:
        from .c_array import write_c_array
        write_c_array(m, args.c_array, symbol=args.symbol)
        print(f"wrote {args.c_array} (symbol {args.symbol})")
    return 0


def _verify(args) -> int:
    from .verify import NoReference, verify
    try:
        if args.rest:
            from .verify import verify_hybrid
            ok = verify_hybrid(args.file, batch=args.batch, steps=args.steps, tolerance=args.tolerance)
        else:
            ok = verify(args.file, batch=args.batch, steps=args.steps, tolerance=args.tolerance)
    except NoReference as e:
        print(f"gru-infer: cannot verify: {e}", file=sys.stderr)
        return 2
    return 0 if ok else 1


def _bench(args) -> int:
    from .bench import bench, format_table, parse_kinds
    if args.rest:
        from .hybrid_bench import bench_hybrid, format_hybrid
        result = bench_hybrid(args.file, batch=args.batch, steps=args.steps, threads=args.threads,
                              kinds=parse_kinds(args.kinds), budget_s=args.time)
        print(json.dumps(result, indent=2) if args.json else format_hybrid(result))
        return 0
    result = bench(args.file, batch=args.batch, steps=args.steps, threads=args.threads,
                   kinds=parse_kinds(args.kinds), budget_s=args.time)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    return 0


def _quantize(args) -> int:
    from .quantize_cli import run
    return run(args)


def _demo(args) -> int:
    from .demo import main as demo_main
    return demo_main()


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line `gru-infer: error: ...` (exit 2), like every other error here."""

    def error(self, message):
        self.exit(2, f"gru-infer: error: {message} (see {self.prog} --help)\n")


def _checked(parse, ok, want: str):
    """An argparse type: `parse(text)`, accepted when `ok`, else one line naming what was expected."""
    def check(text: str):
        try:
            v = parse(text)
        except ValueError:
            v = None
        if v is None or not ok(v):
            raise argparse.ArgumentTypeError(f"expected {want}, got {text!r}")
        return v
    return check


_count = _checked(int, lambda v: v >= 1, "a positive integer")
_seconds = _checked(float, lambda v: math.isfinite(v) and v > 0, "a positive, finite number of seconds")
_tolerance = _checked(float, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    if isinstance(e, MemoryError):
        return "out of memory" + (f" ({e})" if str(e) else "")
    return " ".join(str(e).split()) or type(e).__name__


def main(argv=None) -> int:
    p = _Parser(prog="gru-infer", description="Fast, exact CPU inference for GRU networks")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the shipped vibration-forecasting model").set_defaults(fn=_demo)
    q = sub.add_parser("info", help="layers, sizes and parameter count of a model file")
    q.add_argument("file")
    q.add_argument("--rest", choices=["onnxruntime"], default=None,
                   help="an ONNX graph with other operators: show how it is partitioned between gru_infer "
                        "(the GRU nodes) and onnxruntime (the rest), and the GRU parts' share of the multiply-adds")
    q.add_argument("--batch", type=_count, default=None, help="with --rest: batch size of the estimate (1)")
    q.add_argument("--steps", type=_count, default=None, help="with --rest: time steps of the estimate (100)")
    q.set_defaults(fn=_info)
    q = sub.add_parser("convert", help="convert a model file to the native format")
    q.add_argument("file")
    q.add_argument("-o", "--output", help="native model file to write")
    q.add_argument("--c-array", help="also write the native file as an aligned C array header")
    q.add_argument("--symbol", default="gru_model", help="C symbol name for --c-array")
    q.set_defaults(fn=_convert)
    q = sub.add_parser("verify", help="compare with the framework that wrote FILE on a random input; "
                                      "exit 1 past the tolerance, 2 if there is nothing to compare with")
    q.add_argument("file")
    q.add_argument("--tolerance", type=_tolerance, default=1e-5)
    q.add_argument("--batch", type=_count, default=None,
                   help="sequences (default: the model's declared batch, else 2)")
    q.add_argument("--steps", type=_count, default=None,
                   help="time steps (default: the model's declared length, else 16)")
    q.add_argument("--rest", choices=["onnxruntime"], default=None,
                   help="an ONNX graph with other operators: run it as gru_infer.load(FILE, rest=...) does and "
                        "compare every output with onnxruntime on the full graph")
    q.set_defaults(fn=_verify)
    q = sub.add_parser("bench", help="stream latency, predict time and throughput of FILE on this machine, "
                                     "beside the framework it came from when installed")
    q.add_argument("file")
    q.add_argument("--batch", type=_count, default=None,
                   help="rows per stream step and per predict call (the model's declared batch, else 1)")
    q.add_argument("--steps", type=_count, default=None,
                   help="time steps per predicted sequence (the model's declared length, else 100)")
    q.add_argument("--threads", type=_count, default=None, help="gru_infer (and torch) threads; default all cores")
    q.add_argument("--kinds", default="fp32", help="weight kinds to measure, comma-separated (fp32)")
    q.add_argument("--time", type=_seconds, default=0.5, help="seconds per measurement (0.5)")
    q.add_argument("--json", action="store_true", help="print the numbers as JSON")
    q.add_argument("--rest", choices=["onnxruntime"], default=None,
                   help="an ONNX graph with other operators: time the hybrid (gru_infer.load(FILE, rest=...)) "
                        "against onnxruntime on the full graph, 1 thread each unless --threads, with the max abs "
                        "difference of every output")
    q.set_defaults(fn=_bench)
    q = sub.add_parser("quantize", help="write an int8, bf16 or fp16 copy of a model; print its size, "
                                        "its error against the original and the step latency of both")
    q.add_argument("file")
    q.add_argument("--to", required=True, choices=["int8", "bf16", "fp16"])
    q.add_argument("--calibration", help=".npy input (batch, steps, features) or (steps, features): "
                                         "int8 input scales and the error are taken on it")
    q.add_argument("--keep-fp32", default="", help="comma-separated layer indices to leave in fp32")
    q.add_argument("-o", "--output", required=True, help="native model file to write")
    q.set_defaults(fn=_quantize)
    try:
        args = p.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed as one line
        return int(e.code or 0)
    try:
        return args.fn(args)
    except (ValueError, OSError, ImportError, MemoryError) as e:  # bad input, files, extras, sizes
        print(f"gru-infer: error: {_one_line(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
