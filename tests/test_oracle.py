"""Questions the spec left open, answered by a real kernel (../shared/oracle,
Linux 6.1 under QEMU) and pinned here: tests/oracle/NAME.c ran there, its
dmesg is NAME.dmesg, and NAME.py is its Python twin."""

from __future__ import annotations

from conftest import REPO, run_file
from kernsim.expect import read_transcript

ORACLE = REPO / "tests" / "oracle"


def module_lines(name: str) -> list[str]:
    """The lines the module printed on the real kernel (not the harness's or the loader's)."""
    return [ln.text for ln in read_transcript(str(ORACLE / f"{name}.dmesg"))
            if not ln.text.startswith(("oracle:", "Linux version", f"{name.split('_')[-1]}:"))]


def test_wait_event_evaluates_its_condition_2_plus_k_times() -> None:
    """include/linux/wait.h: the macro tests the condition once before the loop,
    and ___wait_event once per pass after prepare_to_wait_event -- 2 + k for k
    wake-ups (the spec's "2 + 2k" counts a second test that 6.x does not make)."""
    real = module_lines("wait_event_evals")
    assert real == ["wait_event: evals=5 after 3 wake-ups", "wait_event_timeout: evals=5 ret>0=1",
                    "evals done"]
    run = run_file(ORACLE / "wait_event_evals.py", seconds=3)
    assert run.result.exit_code == 0
    ours = [t for t in run.texts if t.startswith(("wait_event:", "wait_event_timeout:", "evals done"))]
    assert ours == real
