"""Error of each reduced-precision kind on the real models of ../shared/real_models (those that
load): max abs difference from the fp32 model and from the framework's reference output, on the
reference input, and the output's scale (max |ref|). Prints a markdown table (docs/quantization.md).

    python tools/quantize_real_models.py [../shared/real_models]
"""
import sys
from pathlib import Path

import numpy as np

import gru_infer


def main(root: Path) -> None:
    print("| model | max abs ref | fp32 vs ref | fp16 vs fp32 | bf16 vs fp32 | int8 vs fp32 | int8 vs ref |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for x_path in sorted((root / "refs").glob("*.x.npy")):
        name = x_path.name[: -len(".x.npy")]
        files = [p for p in (root / "models").glob(name + ".*") if p.suffix != ".yaml"]
        if not files:
            continue
        try:
            m = gru_infer.load(files[0])
        except (ValueError, ImportError) as e:
            print(f"| {files[0].name} | not loaded: {type(e).__name__} | | | | | |")
            continue
        x, ref = np.load(x_path), np.load(root / "refs" / (name + ".y.npy"))
        y32 = m.predict(x)
        same = y32.shape == ref.shape  # else the file cannot record the module's head ("loads")
        cells = [f"{np.abs(ref).max():.3g}", f"{np.abs(y32 - ref).max():.2g}" if same else "head not in file"]
        for kind in ("fp16", "bf16", "int8"):
            yq = m.quantize(kind).predict(x)
            cells.append(f"{np.abs(yq - y32).max():.2g}")
        cells.append(f"{np.abs(yq - ref).max():.2g}" if same else "")
        print(f"| {files[0].name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "real_models"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
