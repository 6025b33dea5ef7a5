"""The version has one home, pyproject.toml's [project] version: the package, the C++ extension and
the CMake build of the core all report it."""
import importlib.metadata
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import gru_infer
from gru_infer import _core

ROOT = Path(__file__).resolve().parent.parent


def pyproject_version():
    return re.search(r'\nversion = "([^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)


def test_package_and_extension_report_the_pyproject_version():
    assert _core.__version__ == pyproject_version()  # VERSION_INFO, passed by setup.py at build time
    assert gru_infer.__version__ == _core.__version__
    assert importlib.metadata.version("gru_infer") == gru_infer.__version__  # the installed metadata


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed (pip install cmake)")
def test_cmake_build_reports_the_same_version(tmp_path):
    # Configure only: project(VERSION) is what the installed package version file and the shared
    # library's VERSION/SOVERSION are made of. The C API has no version function to ask.
    subprocess.run(["cmake", "-S", str(ROOT / "csrc"), "-B", str(tmp_path), "-DGRU_INFER_BUILD_TESTS=OFF",
                    "-DGRU_INFER_BUILD_EXAMPLES=OFF"], check=True, capture_output=True)
    text = (tmp_path / "gru_infer-config-version.cmake").read_text()
    assert re.search(r'set\(PACKAGE_VERSION "([^"]+)"\)', text).group(1) == gru_infer.__version__
