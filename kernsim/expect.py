"""``kernsim run --expect FILE``: is a real kernel's transcript reachable?

A dmesg transcript from a real kernel fixes a few orders that a real SMP
kernel leaves to chance (which of two threads woken in the same jiffy prints
first, whether another CPU ran between two calls).  kernsim's default schedule
produces one valid order; this module searches the others for one whose dmesg
contains the transcript.

Matching (:class:`Matcher`): the transcript's dmesg lines must appear in the
run's log as an ordered subsequence -- text equal once runs of blanks are
folded, time relative to the first line within a tolerance (one timer granule
by default).  Greedy earliest matching is exact here: each line's test depends
only on the line and the time origin.  A run is *dead* as soon as the log has
gone past the latest time at which the next line could still match.

Search (:func:`search`): best-first over decision prefixes.  A run follows a
prefix of decisions (``Replay``) and FIFO after it.  When it dies at line
*p*, the decisions it took between the last matched line and the point of
death are where a different choice could have changed the outcome; each
alternative choice there becomes a new prefix, and prefixes whose parent
matched more lines are tried first.  Every prefix is generated once (children
only change decisions after their parent's prefix), so the search is a walk of
the schedule tree steered by the transcript rather than a blind one.
"""

from __future__ import annotations

import heapq
import re
import time
from dataclasses import dataclass
from typing import Callable, Final

from ._core._module import ModuleImage
from ._core._policy import Replay, encode_decisions
from ._core._printk import Record
from ._core._sched import NSEC_PER_SEC
from .session import ABORTED, Session, SessionOptions, SessionResult

_DMESG_LINE: Final = re.compile(r"^\s*\[\s*(\d+)\.(\d{1,9})\]\s?(.*)$")
_BLANKS: Final = re.compile(r"\s+")

def default_tolerance_ns(hz: int) -> int:
    """The default tolerance: one timer-wheel granule at the level where a
    one-second sleep lands (8 jiffies = 32 ms at HZ=250, 64 ms at HZ=1000)."""
    from ._core._timer import wheel_depth, wheel_granularity

    return wheel_granularity(hz, wheel_depth(hz)) * NSEC_PER_SEC // hz


def fold(text: str) -> str:
    """Text with runs of blanks folded to one space, as transcripts are compared."""
    return _BLANKS.sub(" ", text).strip()


@dataclass(frozen=True)
class ExpectedLine:
    lineno: int
    #: Time since boot on the machine that printed it, ns.
    ts: int
    text: str
    raw: str


class TranscriptError(ValueError):
    """The expectation file has no dmesg lines or cannot be read."""


def parse_transcript(text: str) -> list[ExpectedLine]:
    """The dmesg lines of a transcript (other lines, e.g. ``# comments``, are ignored)."""
    lines = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        m = _DMESG_LINE.match(raw)
        if not m:
            continue
        frac = m.group(2).ljust(9, "0")
        ts = int(m.group(1)) * NSEC_PER_SEC + int(frac)
        lines.append(ExpectedLine(lineno, ts, fold(m.group(3)), raw.rstrip()))
    if not lines:
        raise TranscriptError("no dmesg lines (\"[    1.234567] text\") in the expectation file")
    return lines


def read_transcript(path: str) -> list[ExpectedLine]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse_transcript(f.read())
    except OSError as exc:
        raise TranscriptError(f"cannot read {path}: {exc.strerror}") from None


class Matcher:
    """Follows a run's log records and matches them against the transcript."""

    def __init__(self, lines: list[ExpectedLine], tolerance_ns: int,
                 on_dead: Callable[[], None] | None = None) -> None:
        self.lines = lines
        self.tol = tolerance_ns
        self.on_dead = on_dead
        #: Index of the next line to match.
        self.p = 0
        #: Run time of the record that matched line 0 (the time origin).
        self.t0: int | None = None
        #: Run times of the records that matched each line so far.
        self.matched_at: list[int] = []
        self.dead = False
        #: When the run was found dead (ns since boot), if it was.
        self.dead_at: int | None = None

    @property
    def done(self) -> bool:
        return self.p == len(self.lines)

    def expected_time(self, p: int) -> int:
        """When line *p* should appear in the run (ns since the run's boot)."""
        assert self.t0 is not None
        return self.t0 + self.lines[p].ts - self.lines[0].ts

    def feed(self, rec: Record) -> None:
        if self.dead or self.done:
            return
        line = self.lines[self.p]
        if self.t0 is None:
            if fold(rec.text) == line.text:
                self.t0 = rec.ts
                self._matched(rec)
            return
        want = self.expected_time(self.p)
        if rec.ts > want + self.tol:
            self._die(rec.ts)
            return
        if rec.ts >= want - self.tol and fold(rec.text) == line.text:
            self._matched(rec)

    def _matched(self, rec: Record) -> None:
        self.matched_at.append(rec.ts)
        self.p += 1

    def _die(self, when: int) -> None:
        self.dead = True
        self.dead_at = when
        if self.on_dead is not None:
            self.on_dead()

    def describe_failure(self) -> str:
        """Which line could not be matched, for the user."""
        if self.done:
            return "every line matched"
        line = self.lines[self.p]
        where = f"line {line.lineno} of the expectation file"
        if self.t0 is None:
            return f"{where} ({line.raw.strip()!r}) never appeared in the log"
        want = (self.lines[self.p].ts - self.lines[0].ts) / NSEC_PER_SEC
        return (f"{where} could not be matched: {line.text!r} at +{want:.6f} s after the first line "
                f"(tolerance {self.tol / NSEC_PER_SEC:.3f} s)")


@dataclass
class RunOutcome:
    result: SessionResult
    matcher: Matcher
    choices: list[int]
    options: list[int]
    times: list[int]
    #: The session's commands by pid (insmod, rmmod).
    commands: dict[int, str]


def run_once(image: ModuleImage, options: SessionOptions, lines: list[ExpectedLine],
             tolerance_ns: int, prefix: list[int], *, stop_when_dead: bool = True) -> RunOutcome:
    """One run following *prefix*, then FIFO, matched against *lines*."""
    opts = SessionOptions(**{**options.__dict__, "policy": Replay(prefix)})
    session_box: list[Session] = []
    matcher = Matcher(lines, tolerance_ns,
                      on_dead=(lambda: session_box[0].abort()) if stop_when_dead else None)
    session = Session(image, opts, console=matcher.feed)
    session_box.append(session)
    try:
        result = session.run()
    finally:
        log = session.kernel.decisions
        session.close()
    if not matcher.done and not matcher.dead:
        matcher.dead = True
        matcher.dead_at = int(result.uptime * NSEC_PER_SEC)
    return RunOutcome(result, matcher, list(log.choices), list(log.options), list(log.times),
                      dict(session.command_pids))


@dataclass
class SearchResult:
    found: bool
    #: The replay string of the matching (or best) schedule.
    replay: str
    schedules: int
    #: The best run's matcher (how far it got).
    best: Matcher
    #: Why no schedule can match, when that is known without searching (a
    #: line the session's own command prints at a time no schedule moves).
    hint: str | None = None


def command_time_hint(out: RunOutcome, options: SessionOptions) -> str | None:
    """If the first line the run could not match is the first line a command
    (insmod, rmmod) prints -- at the time the session runs the command, which
    no schedule changes -- say which ``--for`` (or load time) would put it
    where the transcript has it."""
    m = out.matcher
    if m.done or m.t0 is None:
        return None
    want = m.expected_time(m.p)
    text = m.lines[m.p].text
    first_by: dict[int, Record] = {}
    for rec in out.result.records:
        if rec.caller in out.commands and rec.caller not in first_by:
            first_by[rec.caller] = rec
    for pid, rec in first_by.items():
        if fold(rec.text) != text or abs(rec.ts - want) <= m.tol:
            continue
        if out.commands[pid] == "rmmod":
            seconds = options.seconds + (want - rec.ts) / NSEC_PER_SEC
            return (f"{text!r} is printed by rmmod, which runs --for {options.seconds:g} s after "
                    f"insmod, and the transcript has it {seconds:.3f} s after the module's first line; "
                    f"try --for {seconds:.3f}")
        return f"{text!r} is printed by {out.commands[pid]} at a time no schedule changes"
    return None


#: How often a long search says how it is going (wall seconds).
PROGRESS_EVERY: Final = 10.0


def search(image: ModuleImage, options: SessionOptions, lines: list[ExpectedLine], *,
           tolerance_ns: int, max_schedules: int,
           progress: Callable[[int, int], None] | None = None) -> SearchResult:
    """Find a schedule whose log contains *lines* (see the module docstring).

    progress: called as ``progress(schedules tried, lines the best matched)``
    every PROGRESS_EVERY seconds of a long search (C modules run slower).
    """
    heap: list[tuple[int, int, int, list[int]]] = [(0, 0, 0, [])]
    seq = 0
    runs = 0
    best: RunOutcome | None = None
    next_report = time.monotonic() + PROGRESS_EVERY
    while heap and runs < max_schedules:
        if progress is not None and best is not None and time.monotonic() >= next_report:
            progress(runs, best.matcher.p)
            next_report = time.monotonic() + PROGRESS_EVERY
        _, deviations, _, prefix = heapq.heappop(heap)
        # The first run goes to the end: if it fails on a line that the
        # session's own commands print, no schedule can fix that.
        out = run_once(image, options, lines, tolerance_ns, prefix, stop_when_dead=runs > 0)
        runs += 1
        m = out.matcher
        if m.done and out.result.outcome != ABORTED:
            return SearchResult(True, encode_decisions(out.choices), runs, m)
        if runs == 1:
            hint = command_time_hint(out, options)
            if hint is not None:
                return SearchResult(False, encode_decisions(out.choices), runs, m, hint)
        if best is None or m.p > best.matcher.p:
            best = out
        for d in reversed(_window(out, len(prefix))):
            for c in range(out.options[d]):
                if c == out.choices[d]:
                    continue
                seq += 1
                child = out.choices[:d] + [c]
                heapq.heappush(heap, (-m.p, deviations + 1, seq, child))
    assert best is not None
    return SearchResult(False, encode_decisions(best.choices), runs, best.matcher)


def _window(out: RunOutcome, start: int) -> list[int]:
    """Indices of the decisions (at or after *start*) that could have changed
    where the run died: those taken between the last matched line (less the
    tolerance) and the point of death."""
    m = out.matcher
    hi = m.dead_at if m.dead_at is not None else (out.times[-1] if out.times else 0)
    lo = m.matched_at[-1] - m.tol if m.matched_at else 0
    return [d for d in range(start, len(out.times)) if lo <= out.times[d] <= hi]
