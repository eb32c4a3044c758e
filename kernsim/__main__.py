"""``python -m kernsim``: the same as the ``kernsim`` command."""

from .cli import console_main

console_main()
