"""The tutorial's command sequence, with ``kernsim`` in front of each command,
for each of its six modules -- the C listings built unmodified, and their
Python ports -- against one live (virtual-time) kernel per language:

    modinfo ./NAME.ko; insmod ./NAME.ko; lsmod | grep NAME; ps -N | grep NAME;
    dmesg; rmmod NAME; lsmod | grep NAME; ps -N | grep NAME; dmesg

What the live kernel logs is exactly what ``kernsim run`` logs for the same
module and timing (the same kernel, driven by commands instead of a script);
that output is checked against the real kernel's transcripts in test_seed.py.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from live_kernel import SEED, Live, live  # noqa: F401 (live: the fixture)
from kernsim import kbuild
from kernsim.session import SessionOptions, run_module
from kernsim._core._printk import format_dmesg_line

NAMES = ["wait_event", "wait_event_timeout", "prepare_to_wait", "prepare_to_wait_exclusive",
         "prepare_to_wait_event", "wait_woken"]
DESCRIPTIONS = {
    "wait_event": "Example of wait_event",
    "wait_event_timeout": "Example of wait_event_timeout",
    "prepare_to_wait": "Example of prepare_to_wait",
    "prepare_to_wait_exclusive": "Example of prepare_to_wait_exclusive",
    "prepare_to_wait_event": "Example of prepare_to_wait_event",
    "wait_woken": "Example of wait_woken",
}
SECONDS = 6.0


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of examples/seed with the six listings built by their Makefile."""
    d = tmp_path_factory.mktemp("seed")
    for name in NAMES:
        shutil.copy(SEED / f"{name}.c", d)
        shutil.copy(SEED / f"{name}.py", d)
    shutil.copy(SEED / "Makefile", d)
    kbuild.build(d, echo=lambda line: None)
    return d


def same_log(ours: list[str], ref: list[str], tolerance_ns: int, shift_ns: int = 0) -> bool:
    """The same texts in the same order, each within *tolerance_ns* of the
    reference's time plus *shift_ns*."""
    def split(line: str) -> tuple[int, str]:
        sec, text = line[1:].split("] ", 1)
        return round(float(sec) * 1e9), text

    a, b = [split(ln) for ln in ours], [split(ln) for ln in ref]
    assert [t for _, t in a] == [t for _, t in b]
    bad = [(x, y) for x, y in zip(a, b) if abs(x[0] - y[0] - shift_ns) > tolerance_ns]
    assert not bad, bad
    return True


def grep(text: str, word: str) -> list[str]:
    return [ln for ln in text.splitlines() if word in ln]


@pytest.mark.parametrize("suffix", [".ko", ".py"])
def test_the_tutorials_command_sequence_for_each_module(live: Live, seed_dir: Path, suffix: str) -> None:
    live.ok("boot", "--virtual")
    live.ok("sleep", "1")  # as 'kernsim run' does: insmod a second after boot
    seen = 0
    for name in NAMES:
        info = live.ok("modinfo", f"{name}{suffix}", cwd=seed_dir)
        assert f"description:    {DESCRIPTIONS[name]}\n" in info
        assert "license:        GPL\n" in info

        assert live.ok("insmod", f"./{name}{suffix}", cwd=seed_dir) == ""
        assert grep(live.ok("lsmod"), name) == [f"{name:<19} {16384:>8}  0"]
        threads = grep(live.ok("ps", "-N"), name)
        assert len(threads) == 2, threads
        for line, who in zip(threads, ("wake", "wait")):
            assert re.fullmatch(rf"\s*\d+ \?        00:00:00 {name} {who}_thread example", line), line
        # 'modinfo NAME' finds the loaded module's file.
        assert live.ok("modinfo", name).startswith(f"filename:       {seed_dir / name}{suffix}\n")

        live.ok("sleep", str(SECONDS))
        loaded = live.ok("dmesg").splitlines()[seen:]
        assert live.ok("rmmod", name) == ""
        assert grep(live.ok("lsmod"), name) == []
        assert grep(live.ok("ps", "-N"), name) == []
        log = live.ok("dmesg").splitlines()
        unloaded = log[seen + len(loaded):]
        assert unloaded[0].endswith(" exit function")  # "inside (k)thread exit function"
        assert unloaded[-1].endswith("] destroyed threads and completed tasks")

        # The same kernel as 'kernsim run NAME --for 6', record for record: the
        # same texts at the same times -- give or take the few microseconds
        # the threads' first steps take after insmod, which this kernel runs
        # before 'sleep' starts counting, and 'kernsim run' after.
        if name == NAMES[0]:
            run = run_module(str(seed_dir / f"{name}{suffix}"), SessionOptions(seconds=SECONDS))
            assert same_log(log, [format_dmesg_line(r) for r in run.records], 10_000)
        live.ok("sleep", "1")
        seen = len(live.ok("dmesg").splitlines())
    live.ok("halt")


def test_the_log_of_a_later_module_matches_kernsim_run_relative_to_its_init(live: Live, seed_dir: Path) -> None:
    """For a module loaded later in the kernel's life, the lines are those of
    'kernsim run' shifted by the load time, as long as the load lands on the
    same timer-wheel phase (whole seconds at HZ=250)."""
    live.ok("boot", "--virtual")
    live.ok("sleep", "5")
    live.ok("insmod", "./prepare_to_wait_event.ko", cwd=seed_dir)
    live.ok("sleep", "13.378")  # when the tutorial's author ran rmmod (its transcript)
    live.ok("rmmod", "prepare_to_wait_event")
    ours = [ln for ln in live.ok("dmesg").splitlines()[2:]]
    run = run_module(str(seed_dir / "prepare_to_wait_event.ko"), SessionOptions(seconds=13.378))
    ref = [format_dmesg_line(r) for r in run.records][2:]

    assert same_log(ours, ref, 10_000, shift_ns=4_000_000_000)
    live.ok("halt")
