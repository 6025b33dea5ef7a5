"""The typed API: a user script on the public API passes `mypy --strict` against the installed
package (py.typed, stubs for the extension modules), and mypy does catch a misuse in it."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gru_infer

pytest.importorskip("mypy", reason="the test extra installs mypy")
USER = Path(__file__).parent / "data" / "typed_user.py"
PACKAGE = Path(gru_infer.__file__).parent
DEMO = PACKAGE / "models" / "vibration_forecaster.gru"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mypy_cache")


def mypy(path, cache):
    env = dict(os.environ)
    parent = PACKAGE.parent
    if parent.name not in ("site-packages", "dist-packages"):  # an editable install: mypy cannot
        env["MYPYPATH"] = str(parent)                          # follow its import hook
    args = [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-error-summary",
            "--cache-dir", str(cache), str(path)]
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=path.parent)


def test_package_ships_its_type_information():
    for name in ("py.typed", "_core.pyi", "_stream.pyi"):
        assert (PACKAGE / name).is_file(), name


def test_user_script_passes_mypy_strict_and_runs(tmp_path, cache):
    r = mypy(USER, cache)
    assert r.returncode == 0, r.stdout + r.stderr
    sys.path.insert(0, str(USER.parent))
    try:
        import typed_user
    finally:
        sys.path.pop(0)
    assert typed_user.main(str(DEMO), str(tmp_path / "saved.gru")) < 1e-6  # stream vs predict


@pytest.mark.parametrize("misuse,message", [
    ("y.append(1)", 'has no attribute "append"  [attr-defined]'),
    ("stream.step(x, out='buffer')", 'Argument "out" to "step" of "Stream" has incompatible type "str"'),
    ("model.save(3)", 'Argument 1 to "save" of "Model" has incompatible type "int"'),
    ("n: str = model.input_size", '(expression has type "int", variable has type "str")'),
    ("model.predict(x, return_state=True).shape", 'has no attribute "shape"'),  # a (y, h_n) tuple
])
def test_mypy_catches_misuse(tmp_path, cache, misuse, message):
    text = USER.read_text().replace("    model.save(saved_path)\n", f"    model.save(saved_path)\n    {misuse}\n")
    bad = tmp_path / "typed_user_bad.py"
    bad.write_text(text)
    r = mypy(bad, cache)
    assert r.returncode == 1 and message in r.stdout, r.stdout + r.stderr
