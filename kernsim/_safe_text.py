"""How dmesg writes a record's text: ``\\xNN`` for what cannot be printed.

util-linux's ``safe_fwrite()``, shared by ``kernsim dmesg`` and by every place
that prints the log as dmesg would (``kernsim run``, a live kernel's console
and log file), so that a module's control characters never reach the
terminal raw.  Kept outside ``kernsim._core`` so that the dmesg client does
not import the simulated kernel.
"""

from __future__ import annotations

import re
import unicodedata

#: An ASCII text without these needs no escaping (newlines need indenting).
_ASCII_SPECIAL = re.compile("[\\x00-\\x1f\\x7f]")


def printable(ch: str) -> bool:
    """isprint()/isspace() in a UTF-8 locale."""
    code = ord(ch)
    if code < 128:
        return 0x20 <= code < 0x7F or ch in "\t\n\v\f\r"
    return unicodedata.category(ch) not in ("Cc", "Cs", "Cn")


def safe_fwrite(text: str, indent: int, noescape: bool) -> str:
    """``safe_fwrite()``: ``\\xNN`` for what cannot be printed; a newline inside
    the text is followed by *indent* spaces."""
    if noescape or (text.isascii() and not _ASCII_SPECIAL.search(text)):
        if "\n" not in text or not indent:
            return text  # the common case: nothing to escape or indent
    out = []
    n = len(text)
    for i, ch in enumerate(text):
        if not noescape and (ch == "\0" or not printable(ch)):
            out.append("".join(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogateescape")))
        elif ch == "\n" and i + 1 < n and text[i + 1] != "\0" and indent:
            out.append("\n" + " " * indent)
        else:
            out.append(ch)
    return "".join(out)
