"""The examples under examples/ (other than the tutorial's): each prints what
its expected.dmesg says, from Python and from C alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_file
from kernsim import kbuild
from kernsim._core._printk import format_dmesg_line

EXAMPLES = ["completion", "signal", "prodcons"]


def lines_after_boot(path: Path) -> list[str]:
    run = run_file(path, seconds=1)
    assert run.result.exit_code == 0, run.stderr
    return [format_dmesg_line(r) for r in run.result.records][2:]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_prints_its_expected_output_from_python_and_c(name: str, tmp_path: Path) -> None:
    folder = REPO / "examples" / name
    expected = [ln for ln in (folder / "expected.dmesg").read_text().splitlines()
                if not ln.startswith("#")]
    assert lines_after_boot(folder / f"{name}.py") == expected
    for f in (f"{name}.c", "Makefile"):
        shutil.copy(folder / f, tmp_path)
    ko = kbuild.build(tmp_path, echo=lambda line: None).modules[0]
    assert lines_after_boot(ko) == expected
