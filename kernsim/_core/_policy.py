"""Scheduling policies: who runs next, and which same-jiffy timer fires first.

On a real SMP kernel the order of events that happen "at the same time" -- two
threads woken by timers in the same jiffy on two CPUs, one CPU running while
another is between two kernel calls -- is not fixed.  kernsim runs one task at
a time and makes every such order a *decision* taken by a policy object:

* ``PREEMPT`` -- at a scheduling point (a module entering or leaving a kernel
  function) while other tasks are runnable: option 0 keeps the current task
  running, option *i* switches to the *i*-th runnable task (modelling another
  CPU running it in between);
* ``PICK`` -- the current task blocked: which runnable task runs next
  (option 0 = the one woken first);
* ``TIMER`` -- several timers are due at the same time: which fires next
  (option 0 = the one armed first).

Option 0 is always the FIFO choice, so a run is fully described by the
decisions that were *not* 0: that sparse list is the replay string.

Policies:

* :class:`Fifo` -- the default: every decision is 0 (a task runs until it
  blocks, wake-ups queue FIFO, timers fire in arming order).  It is not
  *eager*: the scheduler does not even consult it on its fast path.
* :class:`RandomPolicy` -- uniform choices from a seeded ``random.Random``.
* :class:`Replay` -- follows a recorded decision string, then falls back to
  another policy (FIFO by default): how ``--replay`` and the transcript search
  steer a run.

One rule applies under every policy and is not a decision: a task that has
run for a whole tick while others wait is preempted (round robin), which
models the other CPU so that a busy loop cannot freeze the machine.
"""

from __future__ import annotations

import random
import re
from typing import Final, Protocol, Sequence

PREEMPT: Final = 0
PICK: Final = 1
TIMER: Final = 2

KIND_NAMES: Final = ("preempt", "pick", "timer")


class Policy(Protocol):
    """Chooses among *n* options at a decision point."""

    #: If False the policy always answers 0 and is never asked.
    eager: bool
    #: A short description for messages, e.g. ``random (seed 3)``.
    name: str

    def choose(self, kind: int, n: int) -> int:
        """Return an option in ``range(n)`` (n >= 2)."""


class Fifo:
    """Deterministic default: always option 0."""

    eager = False
    name = "fifo"

    def choose(self, kind: int, n: int) -> int:
        return 0


class RandomPolicy:
    """Uniformly random choices, reproducible from the seed."""

    eager = True

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.name = f"random (seed {seed})"
        self._random = random.Random(seed).random

    def choose(self, kind: int, n: int) -> int:
        # int(random() * n) rather than randrange(): the same numbers on every
        # Python version (randrange's algorithm has changed between releases).
        return int(self._random() * n)


class ReplayMismatch(Exception):
    """A replay string asks for an option that does not exist at its decision."""


class SparseDecisions:
    """A decoded replay string: only the decisions that are not 0.

    Kept sparse so that a string naming decision 999,999,999 costs nothing
    until the run gets there (a dense list would take gigabytes).
    """

    __slots__ = ("indices", "choices", "length")

    def __init__(self, indices: Sequence[int], choices: Sequence[int], length: int) -> None:
        #: Decision numbers (ascending) whose option is ``choices[i]``.
        self.indices = list(indices)
        self.choices = list(choices)
        #: How many decisions the string covers (the last non-zero one + 1).
        self.length = length

    @classmethod
    def from_list(cls, decisions: Sequence[int]) -> SparseDecisions:
        pairs = [(i, c) for i, c in enumerate(decisions) if c]
        return cls([i for i, _ in pairs], [c for _, c in pairs], len(decisions))

    def to_list(self) -> list[int]:
        """Every decision, zeros included (for short strings only)."""
        out = [0] * self.length
        for i, c in zip(self.indices, self.choices):
            out[i] = c
        return out


class Replay:
    """Follows a list of decisions, then defers to *fallback*.

    decisions: option per decision point, in order (as recorded by
        :class:`DecisionLog`), or a decoded replay string; points beyond it
        are asked of *fallback*.
    """

    eager = True

    def __init__(self, decisions: Sequence[int] | SparseDecisions,
                 fallback: Policy | None = None) -> None:
        if not isinstance(decisions, SparseDecisions):
            decisions = SparseDecisions.from_list(decisions)
        self._indices = decisions.indices
        self._choices = decisions.choices
        self._length = decisions.length
        self._k = 0  # the next entry of _indices
        self._next = 0
        self.fallback: Policy = fallback or Fifo()
        self.name = "replay"

    @property
    def length(self) -> int:
        """How many decisions the recorded list covers."""
        return self._length

    @property
    def consumed(self) -> int:
        """How many recorded decisions have been used."""
        return min(self._next, self._length)

    @property
    def exhausted(self) -> bool:
        return self._next >= self._length

    def choose(self, kind: int, n: int) -> int:
        i = self._next
        self._next = i + 1
        if i < self._length:
            k = self._k
            if k < len(self._indices) and self._indices[k] == i:
                self._k = k + 1
                # May be out of range (a string from another run): the kernel checks.
                return self._choices[k]
            return 0
        return self.fallback.choose(kind, n) if self.fallback.eager else 0


class DecisionLog:
    """The decisions a run took, for replay.

    Only eager policies are asked at every decision point; for them the log
    records every choice (with the number of options and the simulated time,
    which the transcript search uses to steer).
    """

    __slots__ = ("choices", "options", "times", "kinds")

    def __init__(self) -> None:
        self.choices: list[int] = []
        self.options: list[int] = []
        self.times: list[int] = []
        self.kinds: list[int] = []

    def __len__(self) -> int:
        return len(self.choices)

    def append(self, kind: int, n: int, choice: int, now: int) -> None:
        self.choices.append(choice)
        self.options.append(n)
        self.times.append(now)
        self.kinds.append(kind)

    def encode(self) -> str:
        return encode_decisions(self.choices)


_TOKEN = re.compile(r"^(\d+)(?::(\d+))?$")


def encode_decisions(choices: Sequence[int]) -> str:
    """The compact replay string of a decision list.

    Only non-zero choices are written, as ``GAP`` (GAP zero choices, then a 1)
    or ``GAP:CHOICE``, comma separated; trailing zeros are dropped.  The empty
    string is the FIFO schedule.
    """
    tokens: list[str] = []
    gap = 0
    for choice in choices:
        if choice == 0:
            gap += 1
            continue
        tokens.append(str(gap) if choice == 1 else f"{gap}:{choice}")
        gap = 0
    return ",".join(tokens)


def decode_decisions(text: str) -> SparseDecisions:
    """Inverse of :func:`encode_decisions`; raises ValueError on a malformed string."""
    text = text.strip()
    if not text or text == "fifo":
        return SparseDecisions([], [], 0)
    indices: list[int] = []
    choices: list[int] = []
    at = 0
    for token in text.split(","):
        m = _TOKEN.match(token.strip())
        if not m:
            raise ValueError(f"malformed replay string at {token!r} (expected GAP or GAP:CHOICE, comma separated)")
        if any(len(g) > 9 for g in m.groups() if g):
            raise ValueError(f"malformed replay string at {token!r} (number too large)")
        gap = int(m.group(1))
        choice = int(m.group(2)) if m.group(2) is not None else 1
        if choice == 0:
            raise ValueError(f"malformed replay string at {token!r} (a written choice is never 0)")
        at += gap
        indices.append(at)
        choices.append(choice)
        at += 1
    return SparseDecisions(indices, choices, at)
