"""bench/c/pingpong.c, the C module of bench/run.py's figure (f), builds from
its Makefile (with ccflags-y, as the bench builds it) and runs cleanly, also
when it is removed before its rounds are done."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import run_file
from kernsim import kbuild

BENCH_C = Path(__file__).resolve().parents[2] / "bench" / "c"


@pytest.fixture(scope="module")
def pingpong_ko(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pingpong")
    shutil.copy(BENCH_C / "pingpong.c", d)
    (d / "Makefile").write_text((BENCH_C / "Makefile").read_text() + "ccflags-y += -DROUNDS=50\n")
    return kbuild.build(d, echo=lambda line: None).modules[0]


def test_pingpong_plays_its_rounds_and_unloads(pingpong_ko: Path) -> None:
    run = run_file(pingpong_ko, seconds=1, hung_task_timeout=0)
    assert "wakeups=100" in run.texts
    assert run.result.exit_code == 0, run.lines


def test_pingpong_removed_mid_game_stops_cleanly(tmp_path: Path) -> None:
    shutil.copy(BENCH_C / "pingpong.c", tmp_path)
    (tmp_path / "Makefile").write_text((BENCH_C / "Makefile").read_text())  # ROUNDS 2000
    ko = kbuild.build(tmp_path, echo=lambda line: None).modules[0]
    run = run_file(ko, seconds=0.0005)
    wakeups = [t for t in run.texts if t.startswith("wakeups=")]
    assert len(wakeups) == 1 and 0 < int(wakeups[0].split("=")[1]) < 4000
    assert run.result.exit_code == 0, run.lines
