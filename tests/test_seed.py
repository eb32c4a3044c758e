"""The tutorial's six modules against the real kernel's transcripts.

How the comparison is made is ``../shared/seed/README.md``'s: the transcript's
lines must be an ordered subsequence of our log, times relative to the first
line within one timer granule, ``rmmod`` at the transcript's exit time.  The
default (FIFO) run must satisfy what holds in *every* order; the exact order of
each transcript must be *reachable* -- found by ``--expect``'s search -- and
its replay string must give the same output again.
"""

from __future__ import annotations

import re

import pytest

from conftest import SEED, TRANSCRIPTS, run_file
from kernsim._core._module import ModuleImage
from kernsim._core._policy import Replay, decode_decisions
from kernsim.expect import Matcher, read_transcript, search

NAMES = ["wait_event", "wait_event_timeout", "prepare_to_wait", "prepare_to_wait_exclusive",
         "prepare_to_wait_event", "wait_woken"]
TOL = 32_000_000  # one granule of wheel level 1 at HZ=250: 8 jiffies


def loaded_seconds(name: str) -> float:
    """When rmmod ran: the exit function's line, relative to the init line."""
    lines = read_transcript(str(TRANSCRIPTS / f"{name}.dmesg"))
    exit_line = next(ln for ln in lines if "exit function" in ln.text)
    return (exit_line.ts - lines[0].ts) / 1e9


@pytest.mark.parametrize("name", NAMES)
def test_transcript_is_reproduced_and_replayable(name: str) -> None:
    lines = read_transcript(str(TRANSCRIPTS / f"{name}.dmesg"))
    seconds = loaded_seconds(name)
    image = ModuleImage.from_file(str(SEED / f"{name}.py"))
    from kernsim.session import SessionOptions

    found = search(image, SessionOptions(seconds=seconds), lines, tolerance_ns=TOL, max_schedules=2000)
    assert found.found, found.best.describe_failure()
    # The replay string gives a run that matches, and the same output every time.
    first = run_file(SEED / f"{name}.py", seconds=seconds, policy=Replay(decode_decisions(found.replay)))
    again = run_file(SEED / f"{name}.py", seconds=seconds, policy=Replay(decode_decisions(found.replay)))
    assert first.lines == again.lines
    assert first.result.exit_code == 0
    matcher = Matcher(lines, TOL)
    for rec in first.result.records:
        matcher.feed(rec)
    assert matcher.done, matcher.describe_failure()


def test_a_transcript_with_another_order_is_not_matched_by_the_fifo_run() -> None:
    """The matcher is not a yes-machine: wait_event_timeout's transcript has the
    wait thread print i=1 between the wake thread's print and its i++ -- an order
    the FIFO schedule does not produce."""
    lines = read_transcript(str(TRANSCRIPTS / "wait_event_timeout.dmesg"))
    run = run_file(SEED / "wait_event_timeout.py", seconds=loaded_seconds("wait_event_timeout"))
    matcher = Matcher(lines, TOL)
    for rec in run.result.records:
        matcher.feed(rec)
    assert not matcher.done
    assert "wait thread execution i value = 1" in matcher.describe_failure()


def _values(texts: list[str], who: str) -> list[int]:
    pat = re.compile(rf"^{who} thread execution i value = +(\d+)$")
    return [int(m.group(1)) for t in texts if (m := pat.match(t))]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("policy", ["fifo", "random"])
def test_every_order_keeps_the_invariants(name: str, policy: str) -> None:
    """What holds whatever the schedule (the seed README's list)."""
    from kernsim._core._policy import Fifo, RandomPolicy

    for seed in range(3 if policy == "random" else 1):
        pol = RandomPolicy(seed) if policy == "random" else Fifo()
        run = run_file(SEED / f"{name}.py", seconds=6, policy=pol)
        assert run.result.exit_code == 0, run.stderr
        texts = run.after(next(t for t in run.texts if t.startswith("inside kthread init")))
        wake = _values(texts, "wake")
        wait = _values(texts, "wait")
        # The wake thread prints i, then increments it: 0, 1, 2, ... in order.
        assert wake == list(range(len(wake))) and len(wake) >= 6
        # The wait thread reads a value the wake thread has reached, never going back.
        assert wait == sorted(wait) and all(v <= len(wake) for v in wait)
        if name == "wait_event":
            assert all(v > 3 for v in wait)  # wait_event(wqueue, i > 3)
        exit_at = next(i for i, t in enumerate(texts) if "exit function" in t)
        destroyed = texts.index("destroyed threads and completed tasks")
        assert destroyed == len(texts) - 1 and exit_at < destroyed
        # The wake thread is stopped first: it prints nothing after the exit line.
        assert not _values(texts[exit_at:], "wake")
        assert "successfully created wake thread" in texts and "successfully created wait thread" in texts


def test_default_run_matches_the_fifo_replay_string() -> None:
    """The empty replay string (every decision 0) is exactly the FIFO schedule."""
    fifo = run_file(SEED / "prepare_to_wait.py")
    replay = run_file(SEED / "prepare_to_wait.py", policy=Replay([]))
    assert fifo.lines[2:] == replay.lines[2:]  # the boot line names the policy


def test_same_seed_same_output_and_seeds_reach_other_orders() -> None:
    from kernsim._core._policy import RandomPolicy

    outputs = set()
    for seed in range(8):
        a = run_file(SEED / "wait_event_timeout.py", policy=RandomPolicy(seed))
        b = run_file(SEED / "wait_event_timeout.py", policy=RandomPolicy(seed))
        assert a.lines == b.lines and a.result.decisions == b.result.decisions
        outputs.add(tuple(a.texts))
    assert len(outputs) > 1


def test_random_run_is_reproduced_by_its_replay_string() -> None:
    from kernsim._core._policy import RandomPolicy

    a = run_file(SEED / "prepare_to_wait_exclusive.py", policy=RandomPolicy(11))
    b = run_file(SEED / "prepare_to_wait_exclusive.py", policy=Replay(decode_decisions(a.result.decisions)))
    assert a.lines[2:] == b.lines[2:]


def test_msleep_1000_loop_prints_every_1024_ms() -> None:
    """The transcripts' rhythm: 251 jiffies rounded up to the 8-jiffy granule."""
    run = run_file(SEED / "wait_event.py")
    times = [r.ts for r in run.result.records if r.text.startswith("wake thread execution")]
    gaps = {b - a for a, b in zip(times[1:], times[2:])}
    assert gaps == {1_024_000_000}


def test_early_rmmod_hangs_with_the_hung_task_reports() -> None:
    run = run_file(SEED / "wait_event.py", seconds=2)
    assert run.result.outcome == "hung" and run.result.exit_code == 1
    texts = run.texts
    wait_pid = next(int(m.group(1)) for t in texts if (m := re.match(r"INFO: task wait_event wait:(\d+) blocked", t)))
    assert f"INFO: task wait_event wait:{wait_pid} blocked for more than 120 seconds." in texts
    assert any(re.fullmatch(r"INFO: task rmmod:\d+ blocked for more than 120 seconds\.", t) for t in texts)
    assert any("rmmod" in line and "never returned" in line for line in run.stderr)
