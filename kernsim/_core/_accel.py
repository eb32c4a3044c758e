"""The optional C accelerator of the wait/wake hot path (``_fastpath.c``).

``_fastpath`` runs the loop of the ``wait_event*`` macros and the wake-up walk
in C, on the core's own objects and calling the core's Python code for every
step off the common path (see the C file's header).  It is built when kernsim
is installed; where it could not be built, or with ``KERNSIM_PURE=1`` in the
environment, the Python implementations run instead and behave the same --
the test suite checks both.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any


def load(**core: Any) -> ModuleType | None:
    """The set-up accelerator, or None to use the Python implementations.

    *core*: the objects ``_fastpath.setup()`` takes, by name.
    """
    if os.environ.get("KERNSIM_PURE", "") not in ("", "0"):
        return None
    try:
        from . import _fastpath  # type: ignore[attr-defined]
    except ImportError:
        return None
    _fastpath.setup(core["cur"], core["Scheduler"], core["Task"], core["wait_queue_entry"],
                    core["wait_queue_head"], core["list_head"], core["autoremove_wake_function"],
                    core["prepare_to_wait_event"], core["finish_wait"], core["schedule"],
                    core["wake_up"], core["GreenletContext"], core["sleep_site"])
    return _fastpath
