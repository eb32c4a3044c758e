"""The user's Ctrl-C, told apart from module code's ``raise KeyboardInterrupt``.

Kept out of ``kernsim._core`` (which imports the whole simulated kernel) so
that every command -- ``kernsim lsmod`` included -- can install the handler
without paying for that import.
"""

from __future__ import annotations


class CtrlC(KeyboardInterrupt):
    """The user's Ctrl-C, raised by :func:`raise_ctrl_c`: a KeyboardInterrupt
    that module code cannot raise by mistake, so a program that installs the
    handler (``kernsim run``) tells the user's Ctrl-C from module code's
    ``raise KeyboardInterrupt``, which is that module's fault."""


def raise_ctrl_c(signum: int, frame: object) -> None:
    """A SIGINT handler raising :class:`CtrlC` where Python's own raises KeyboardInterrupt."""
    raise CtrlC
