"""Run the benchmark suite and write benchmarks/results.md and benchmarks/speedup.png.

    python benchmarks/run.py                 # full run, a few minutes on 2 cores
    python benchmarks/run.py --quick         # smoke run: few rounds, indicative numbers only
    python benchmarks/run.py --runs 3        # the suite 3 times; per case the median of the 3 ratios
    python benchmarks/run.py --json r.json   # also keep pytest-benchmark's raw JSON (r-1.json, ... with --runs)
    python benchmarks/run.py --from-json r-1.json r-2.json   # only re-render the report from kept JSON

Speed-ups are baseline median / our median, both measured in the same run. On a shared machine one
run can catch a busy moment for one framework and not another: with --runs N each case reports the
median of its N per-run ratios, and their range.
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

from bench_cases import (
    ACCELERATE_CASES,
    ACCELERATE_TARGET,
    ACCELERATED,
    API_CASES,
    BATCH_CASES,
    BATCH_TARGET_FP32,
    BATCH_TARGET_VS_OUR_FP32,
    BATCH_THREADS,
    CASES,
    OURS_FP32,
    QUANT_CASES,
    TWO_THREADS,
    batch_group,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# pytest-benchmark settings: min_time batches the µs-scale streaming steps into rounds of >= 100 µs,
# so a preempted step on a shared machine spoils one round, not the median.
FULL = ["--benchmark-min-rounds=10", "--benchmark-max-time=1.0", "--benchmark-min-time=0.0001",
        "--benchmark-warmup=on", "--benchmark-warmup-iterations=20", "--benchmark-disable-gc"]
QUICK = ["--benchmark-min-rounds=3", "--benchmark-max-time=0.05", "--benchmark-min-time=0.0001",
         "--benchmark-disable-gc"]


def run_suite(json_path: Path, quick: bool) -> None:
    cmd = [sys.executable, "-m", "pytest", str(HERE), "-q", "-p", "no:cacheprovider",
           f"--benchmark-json={json_path}", *(QUICK if quick else FULL)]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True)


def medians(data: dict) -> dict:
    """{(case name, framework): median seconds per call}."""
    return {(b["extra_info"]["case"], b["extra_info"]["framework"]): b["stats"]["median"]
            for b in data["benchmarks"]}


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def per_run(runs: list, case, frameworks) -> list:
    """[[median of each framework] for each run] for one case, or [] if a run lacks one of them."""
    try:
        return [[med[case.name, f] for f in frameworks] for med in runs]
    except KeyError:
        return []


def speedups(runs: list):
    """Per case: (case, ours, torch, ort, x vs ORT, x vs torch, ORT range, torch range), each the median
    over runs of that run's value (ratios are taken within a run); cases missing a framework are skipped."""
    rows = []
    for case in CASES:
        times = per_run(runs, case, ("gru_infer", "torch", "onnxruntime"))
        if not times:
            continue
        vs_ort = [ox / ours for ours, _, ox in times]
        vs_pt = [pt / ours for ours, pt, _ in times]
        ours, pt, ox = (statistics.median(col) for col in zip(*times))
        rows.append((case, ours, pt, ox, statistics.median(vs_ort), statistics.median(vs_pt),
                     (min(vs_ort), max(vs_ort)), (min(vs_pt), max(vs_pt))))
    return rows


def two_thread_rows(runs: list):
    """Per case timed with TWO_THREADS too: (case, ours on 1 thread, ours on 2, x vs 1 thread, x vs ORT on 1),
    medians over runs of each run's values."""
    rows = []
    for case in CASES:
        times = per_run(runs, case, ("gru_infer", TWO_THREADS, "onnxruntime"))
        if not times:
            continue
        one, two, ox = (statistics.median(col) for col in zip(*times))
        rows.append((case, one, two, statistics.median([a / b for a, b, _ in times]),
                     statistics.median([c / b for _, b, c in times])))
    return rows


def quant_rows(runs: list, data: dict):
    """Per quantized case: (case, ours, ours fp32, torch, ort, x vs ORT, x vs PyTorch, x vs our fp32,
    max abs error vs fp32), times and ratios medians over runs of each run's values; the error is
    the last run's (the same model and input every run)."""
    errors = {b["extra_info"]["case"]: b["extra_info"]["max_abs_err_vs_fp32"] for b in data["benchmarks"]
              if "max_abs_err_vs_fp32" in b["extra_info"]}
    rows = []
    for case in QUANT_CASES:
        times = per_run(runs, case, ("gru_infer", OURS_FP32, "torch", "onnxruntime"))
        if not times or case.name not in errors:
            continue
        ratios = [statistics.median([t[k] / t[0] for t in times]) for k in (3, 2, 1)]
        rows.append((case, *(statistics.median(col) for col in zip(*times)), *ratios, errors[case.name]))
    return rows


def quant_lines(rows) -> list:
    if not rows:
        return []
    lines = ["## Reduced precision (ours int8 / bf16 against float32)", "",
             "Ours is `model.quantize(kind)` of the float32 model that PyTorch, onnxruntime and "
             "ours fp32 run (all three agree within 1e-5); the error is the quantized model's max abs "
             "difference from PyTorch's float32 output on the benchmark input (predict: the whole "
             "sequence; stream: the 8 steps checked before timing). One thread each.", "",
             "| case | ours | ours fp32 | PyTorch fp32 | onnxruntime fp32 | x vs ORT | x vs PyTorch "
             "| x vs ours fp32 | target | max abs error vs fp32 | met? |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"]
    for case, ours, fp32, pt, ox, vs_ort, vs_pt, vs_fp32, err in rows:
        wanted = [(name, got, want) for name, got, want in (("ORT", vs_ort, case.target_vs_ort),
                                                            ("PyTorch", vs_pt, case.target_vs_torch),
                                                            ("ours fp32", vs_fp32, case.target_vs_fp32))
                  if want is not None]
        target = ", ".join(f">= {want:g}x {name}" for name, _, want in wanted) or "none"
        if case.target_vs_fp32 is not None and case.kind == "stream":
            target += " (C++ step target)"
        missed = [name for name, got, want in wanted if got < want]
        met = "n/a" if not wanted else "yes" if not missed else "no (" + ", ".join(missed) + ")"
        lines.append(f"| {case.name} | {fmt_time(ours)} | {fmt_time(fp32)} | {fmt_time(pt)} | {fmt_time(ox)} "
                     f"| {vs_ort:.2f}x | {vs_pt:.2f}x | {vs_fp32:.2f}x | {target} | {err:.2g} | {met} |")
    return lines + [""]


def api_rows(runs: list):
    """Per API case: (case, per-step (or per stream-step) median seconds of each variant, ratios),
    medians over runs of each run's values."""
    rows = []
    for case in API_CASES:
        times = per_run(runs, case, case.variants)
        if not times:
            continue
        per = case.steps if case.kind == "block" else case.active
        times = [[t / per for t in run] for run in times]
        if case.kind == "block":  # run / predict, step calls / run
            ratios = [statistics.median([r / p for r, p, _ in times]), statistics.median([s / r for r, _, s in times])]
        else:  # slots / lone
            ratios = [statistics.median([s / lone for s, lone in times])]
        rows.append((case, [statistics.median(col) for col in zip(*times)], ratios))
    return rows


def api_lines(rows) -> list:
    if not rows:
        return []
    lines = ["## Stream APIs (gru_infer only, one thread)", "",
             "Per step (blocks) or per stream-step (slots), medians; ratios within each run.", "",
             "| case | times | ratios | targets | met? |", "|---|---|---|---|---|"]
    for case, t, r in rows:
        if case.kind == "block":
            times = f"run {fmt_time(t[0])}, predict {fmt_time(t[1])}, step calls {fmt_time(t[2])}"
            ratios = f"run/predict {r[0]:.2f}, step/run {r[1]:.2f}"
            target = f"run/predict <= {case.max_run_vs_predict:g}, step/run >= {case.min_step_vs_run:g}"
            met = r[0] <= case.max_run_vs_predict and r[1] >= case.min_step_vs_run
        else:
            times = f"slots {fmt_time(t[0])}, lone stream {fmt_time(t[1])}"
            ratios = f"slots/lone {r[0]:.2f}"
            target = f"<= {case.max_slot_us:g} µs and slots/lone <= {case.max_slot_vs_lone:g}"
            met = t[0] * 1e6 <= case.max_slot_us and r[0] <= case.max_slot_vs_lone
        lines.append(f"| {case.name} | {times} | {ratios} | {target} | {'yes' if met else 'no'} |")
    return lines + [""]


def accelerate_lines(runs: list) -> list:
    """The CRNN in torch against the same module after gru_infer.torch.accelerate (ratios within each run)."""
    lines = []
    for name in ACCELERATE_CASES:
        times = [(med[name, "torch"], med[name, ACCELERATED]) for med in runs if (name, ACCELERATED) in med]
        if times:
            pt, ours = (statistics.median(col) for col in zip(*times))
            ratio = statistics.median([a / b for a, b in times])
            met = "yes" if ratio >= ACCELERATE_TARGET else "no"
            lines.append(f"| {name} | {fmt_time(pt)} | {fmt_time(ours)} | {ratio:.2f}x | >= {ACCELERATE_TARGET:g}x "
                         f"| {met} |")
    if not lines:
        return []
    return ["## GRUs inside a PyTorch module (gru_infer.torch.accelerate, one thread)", "",
            "Conv1d(40 -> 64) + BatchNorm + ReLU -> GRU(64, 128) -> Linear(10) on every frame, checked to agree "
            "within 1e-5 before timing; the conv and the head still run in torch.", "",
            "| case | PyTorch | accelerated | x vs PyTorch | target | met? |", "|---|---:|---:|---:|---|---|",
            *lines, ""]


def batch_lines(runs: list, datas: list) -> list:
    """The big-batch table (test_bench_batch.py): per case and thread count, ours fp32 against the
    fastest fp32 peer, ours int8 / bf16 against our fp32, OpenVINO at its own precision, errors vs
    PyTorch fp32. Every ratio is taken within a run (its peer too), then the median over runs."""
    info = {(b["extra_info"]["case"], b["extra_info"]["framework"]): b["extra_info"] for d in datas
            for b in d["benchmarks"] if "threads" in b["extra_info"]}
    if not info:
        return []

    def med(values):
        return statistics.median(values) if values else None

    lines = ["## Big batches (servers)", "",
             "One `torch.nn.GRU(H, H)` on x ~ N(0, 1), from h = 0, in every engine; medians per call; "
             "x = their time / ours. fp32 peers: onnxruntime, PyTorch, OpenVINO forced to f32; the OpenVINO "
             "column is its own default precision on this CPU (in brackets). Targets (issue 24): ours fp32 "
             f">= {BATCH_TARGET_FP32:g}x the fastest "
             "fp32 peer; " + ", ".join(f"{k.split()[1]} >= {v:g}x our fp32" for k, v in
                                      BATCH_TARGET_VS_OUR_FP32.items()) + ". Errors: max abs vs PyTorch fp32.", "",
             "| case | ours fp32 | fastest fp32 peer | x | ours int8 (x our fp32, err) | ours bf16 (x our fp32, err) "
             "| OpenVINO | PyTorch qint8 / bf16 | met? |",
             "|---|---:|---|---:|---|---|---|---|---|"]
    for case in BATCH_CASES:
        for threads in BATCH_THREADS:
            name = batch_group(case, threads)
            times = [{e: m[name, e] for (c, e) in m if c == name} for m in runs]
            times = [t for t in times if "gru_infer fp32" in t]
            if not times:
                continue
            # per run: the fastest fp32 peer and its ratio
            peers = [min(((e, t[e]) for e in ("onnxruntime fp32", "OpenVINO fp32", "PyTorch fp32") if e in t),
                         key=lambda p: p[1], default=None) for t in times]
            vs_peer = [p[1] / t["gru_infer fp32"] for p, t in zip(peers, times) if p]
            ours = med([t["gru_infer fp32"] for t in times])
            peer = peers[-1]
            missed = [] if vs_peer and med(vs_peer) >= BATCH_TARGET_FP32 else ["fp32"]
            peer_cell = f"{peer[0]} {fmt_time(med([t[peer[0]] for t in times if peer[0] in t]))}" if peer else "-"
            cells = []
            for engine in ("gru_infer int8", "gru_infer bf16"):
                ratio = med([t["gru_infer fp32"] / t[engine] for t in times if engine in t])
                if ratio is None:
                    cells.append("-")
                    continue
                err = info.get((name, engine), {}).get("max_abs_err_vs_fp32", float("nan"))
                cells.append(f"{fmt_time(med([t[engine] for t in times if engine in t]))} ({ratio:.2f}x, {err:.1g})")
                if ratio < BATCH_TARGET_VS_OUR_FP32[engine]:
                    missed.append(engine.split()[1])
            ov = med([t["OpenVINO"] for t in times if "OpenVINO" in t])
            ov_info = info.get((name, "OpenVINO"), {})
            ov_precision = re.sub(r"<Type: '(.*)'>", r"\1", ov_info.get("precision", ""))  # (older runs kept the repr)
            ov_cell = "-" if ov is None else (f"{fmt_time(ov)} [{ov_precision}], err "
                                              f"{ov_info.get('max_abs_err_vs_fp32', float('nan')):.1g}")
            pt = [med([t[e] for t in times if e in t]) for e in ("PyTorch qint8", "PyTorch bf16")]
            pt_cell = " / ".join("-" if t is None else fmt_time(t) for t in pt)
            met = "yes" if not missed else "no (" + ", ".join(missed) + ")"
            x = f"{med(vs_peer):.2f}x" if vs_peer else "-"
            lines.append(f"| {name} | {fmt_time(ours)} | {peer_cell} | {x} | {cells[0]} | {cells[1]} | {ov_cell} "
                         f"| {pt_cell} | {met} |")
    return lines + [""]


def machine_lines(data: dict, quick: bool) -> list:
    info = data["machine_info"]["gru_infer_bench"]
    v, t = info["versions"], info["threads"]
    opts = data["benchmarks"][0]["options"] if data["benchmarks"] else {}
    return [
        f"- CPU: {info['cpu_model']}, {info['logical_cpus']} logical CPUs ({info['usable_cpus']} usable)",
        f"- gru_infer ISA chosen: `{info['isa']}`",
        f"- One thread each: gru_infer {t['gru_infer']}, PyTorch {t['torch']}, onnxruntime intra-op "
        f"{t['onnxruntime_intra_op']} / inter-op {t['onnxruntime_inter_op']} (sequential execution)",
        f"- Versions: gru_infer {v['gru_infer']}, PyTorch {v['torch']}, onnxruntime {v['onnxruntime']}, "
        f"numpy {v['numpy']}, Python {v['python']}",
        f"- Date: {data['datetime']}",
        f"- Run: {'QUICK smoke run (few rounds; numbers indicative only)' if quick else 'full'}; "
        f"min_rounds {opts.get('min_rounds')}, max_time {opts.get('max_time')} s per benchmark, "
        f"float32 unless a table says otherwise, medians per call",
    ]


NOTES_HEADING = "## Notes and history"


def write_markdown(data: dict, rows, two_rows, quant, api, quick: bool, n_runs: int, path: Path,
                   accelerate: Optional[list] = None, batch: Optional[list] = None) -> None:
    def ratio(median, lo_hi):
        return f"{median:.2f}x" if n_runs == 1 else f"{median:.2f}x ({lo_hi[0]:.2f}-{lo_hi[1]:.2f})"

    lines = ["# gru_infer benchmark results", "", *machine_lines(data, quick),
             f"- Runs of the whole suite: {n_runs}" + ("; times and ratios are medians over the runs "
                                                      "(ratio range in brackets)" if n_runs > 1 else ""),
             "",
             "| case | ours | PyTorch | onnxruntime | x vs ORT | x vs PyTorch | target vs ORT "
             "| target vs PyTorch | met? |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for case, ours, pt, ox, vs_ort, vs_pt, ort_range, pt_range in rows:
        missed = [name for name, got, want in (("ORT", vs_ort, case.target_vs_ort),
                                               ("PyTorch", vs_pt, case.target_vs_torch)) if got < want]
        met = "yes" if not missed else "no (" + ", ".join(missed) + ")"
        lines.append(f"| {case.name} | {fmt_time(ours)} | {fmt_time(pt)} | {fmt_time(ox)} | {ratio(vs_ort, ort_range)} "
                     f"| {ratio(vs_pt, pt_range)} | {case.target_vs_ort:g}x | {case.target_vs_torch:g}x | {met} |")
    err = max(b["extra_info"]["max_abs_err_vs_torch"] for b in data["benchmarks"] if b["extra_info"]["case"] in
              {c.name for c in CASES})
    lines += ["", f"Before timing, every case checked that all three frameworks agree (max abs difference "
                  f"to PyTorch over all cases: {err:.2g}, limit 1e-5).",
              "Times are per call: one streaming step from Python, or one whole predict call.",
              "The machine may be shared: compare the ratios (measured in the same run), not absolute times.",
              "", "![speed-up per case](speedup.png)", ""]
    if two_rows:
        lines += ["## gru_infer with 2 threads, batch of one", "",
                  "Not part of the one-thread comparison above: the same predict calls with "
                  "`set_num_threads(2)` (the default on a 2-core machine), where the input projection "
                  "runs on the second thread ahead of the steps. onnxruntime is still on one thread.", "",
                  "| case | gru_infer, 1 thread | gru_infer, 2 threads | x vs 1 thread | x vs ORT (1 thread) |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {case.name} | {fmt_time(one)} | {fmt_time(two)} | {gain:.2f}x | {vs_ort:.2f}x |"
                  for case, one, two, gain, vs_ort in two_rows]
        lines.append("")
    lines += quant_lines(quant)
    lines += api_lines(api)
    lines += accelerate or []
    lines += batch or []
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if NOTES_HEADING in old:  # the hand-written notes below the tables survive a re-render
        lines += ["", old[old.index(NOTES_HEADING):].rstrip("\n"), ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_chart(data: dict, rows, quick: bool, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, w = len(rows), 0.38
    fig, ax = plt.subplots(figsize=(11, 5.5))
    for k, (label, col, target_of, color) in enumerate(
            (("vs onnxruntime", 4, lambda c: c.target_vs_ort, "tab:blue"),
             ("vs PyTorch", 5, lambda c: c.target_vs_torch, "tab:orange"))):
        xs = [i + (k - 0.5) * w for i in range(n)]
        values = [r[col] for r in rows]
        # bars grow from 1x, so a slow-down points down on the log axis
        bars = ax.bar(xs, [v - 1 for v in values], w, bottom=1, label=label, color=color)
        ax.bar_label(bars, labels=[f"{v:.3g}x" for v in values], fontsize=7, padding=2)
        ax.scatter(xs, [target_of(r[0]) for r in rows], marker="_", s=900, linewidths=2.5, color="black",
                   zorder=3, label="target" if k == 0 else None)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_ylabel("speed-up of gru_infer (baseline median / ours)")
    ax.set_xticks(range(n))
    ax.set_xticklabels([r[0].name.replace(" T=", "\nT=") for r in rows], rotation=30, ha="right", fontsize=8)
    info = data["machine_info"]["gru_infer_bench"]
    ax.set_title(f"gru_infer speed-up, one thread each, float32 ({info['cpu_model']}, {info['isa']})"
                 + (" — QUICK run" if quick else ""), fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: few rounds per benchmark")
    p.add_argument("--runs", type=int, default=1, help="run the suite this many times (default 1)")
    p.add_argument("--json", type=Path, help="keep pytest-benchmark's JSON at this path")
    p.add_argument("--from-json", type=Path, nargs="+", help="skip the run; render the report from these JSON")
    args = p.parse_args()
    if args.runs < 1:
        p.error(f"--runs must be at least 1, got {args.runs}")

    with tempfile.TemporaryDirectory() as tmp:
        if args.from_json:
            paths = args.from_json
        else:
            base = args.json or Path(tmp) / "results.json"
            paths = [base] if args.runs == 1 else [base.with_name(f"{base.stem}-{i + 1}{base.suffix}")
                                                   for i in range(args.runs)]
            for path in paths:
                run_suite(path, args.quick)
        runs = [json.loads(Path(path).read_text(encoding="utf-8")) for path in paths]
    data = runs[-1]  # machine information and options: the last run's
    quick = data["benchmarks"][0]["options"]["max_time"] < 1.0  # QUICK's settings, also for --from-json
    meds = [medians(d) for d in runs]
    rows = speedups(meds)
    write_markdown(data, rows, two_thread_rows(meds), quant_rows(meds, data), api_rows(meds), quick, len(runs),
                   HERE / "results.md", accelerate_lines(meds), batch_lines(meds, runs))
    write_chart(data, rows, quick, HERE / "speedup.png")
    print((HERE / "results.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
