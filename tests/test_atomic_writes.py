"""Writing model files (issue 26, items 2 and 3): a failed write raises OSError with its errno and
never destroys the file it was replacing; reading refuses devices and FIFOs instead of reading
forever or blocking.

The full disk is made with RLIMIT_FSIZE in a child process (no root needed): writes past the limit
fail with EFBIG, as they would with ENOSPC on a full device. /dev/full gives ENOSPC itself.
"""
import errno
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gru_infer
from gru_infer import layers as L


def _model(H=4, I=2, seed=0):
    rng = np.random.default_rng(seed)
    d = L.GRUDirection(*(rng.standard_normal(s).astype(np.float32) for s in ((3 * H, I), (3 * H, H), 3 * H, 3 * H)))
    return gru_infer.Model.from_layers([L.GRU(I, H, [d])])


def test_small_model_to_a_full_device_raises():
    m = gru_infer.Model.from_layers([L.Dense(np.ones((1, 1), np.float32), np.zeros(1, np.float32))])
    assert len(m.to_bytes()) < 1024  # what a buffered stream only notices at close
    with pytest.raises(OSError) as e:
        m.save("/dev/full")
    assert e.value.errno == errno.ENOSPC and e.value.filename == "/dev/full"


def test_save_to_a_folder_or_a_missing_folder(tmp_path):
    m = _model()
    with pytest.raises(IsADirectoryError):
        m.save(tmp_path)
    with pytest.raises(FileNotFoundError):
        m.save(tmp_path / "missing" / "m.gru")
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_failed_overwrite_keeps_the_old_file(tmp_path):
    """A good small model, then a big one saved over it on a 'full disk': the small one survives."""
    good = tmp_path / "model.gru"
    small = _model(H=4)
    small.save(good)
    before = good.read_bytes()
    script = textwrap.dedent(f"""
        import errno, resource, signal, sys
        import numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_atomic_writes import _model
        from gru_infer.c_array import write_c_array
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        big = _model(H=64, I=32)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before)} + 100, resource.RLIM_INFINITY))
        for write in (lambda: big.save({str(good)!r}), lambda: write_c_array(big, {str(good)!r})):
            try:
                write()
            except OSError as e:
                assert e.errno == errno.EFBIG, e
            else:
                sys.exit("the write past the limit did not raise")
    """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert good.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["model.gru"]
    assert np.array_equal(gru_infer.load(good).predict(np.ones((3, 2))), small.predict(np.ones((3, 2))))


def test_overwrite_replaces_the_file_and_keeps_its_permissions(tmp_path):
    path = tmp_path / "model.gru"
    _model(seed=1).save(path)
    os.chmod(path, 0o640)
    new = _model(seed=2)
    new.save(path)
    assert path.read_bytes() == new.to_bytes()
    assert (os.stat(path).st_mode & 0o777) == 0o640


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_loading_a_device_is_refused_at_once(device):
    with pytest.raises(ValueError, match="regular model file"):
        gru_infer.load(device)
    with pytest.raises(OSError, match="regular model file"):  # the core's own reader (C and C++ API)
        gru_infer._core.Model.load(device)


def test_loading_a_fifo_does_not_block(tmp_path):
    fifo = tmp_path / "model.gru"
    os.mkfifo(fifo)
    script = f"import gru_infer; gru_infer._core.Model.load({str(fifo)!r})"
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "regular model file" in p.stderr
    with pytest.raises(ValueError, match="regular model file"):
        gru_infer.load(fifo)
