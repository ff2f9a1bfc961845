"""Text from the watchlist or a carrier made safe to show: no terminal escape sequence, control or bidi override."""
from __future__ import annotations

import re
import unicodedata

# A terminal acts on these instead of showing them: CSI (colours, clearing the screen, moving the cursor), OSC
# (hyperlinks, window titles, the clipboard), DCS/SOS/PM/APC strings, and the shorter ESC sequences; each in its
# 7-bit (ESC …) and its 8-bit C1 form. A string sequence runs to its terminator (BEL or ST), or to the next ESC.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
# Joiners shape emoji and some scripts (Persian, Indic); every other format character (bidi overrides, invisible
# tag characters, zero-width spaces) can only hide or reorder what the reader sees.
_JOINERS = frozenset("\u200c\u200d")
_LINE_BREAKS = frozenset("\n\u2028\u2029\x85")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _hidden(ch: str) -> bool:
    """A character a terminal or a text layout acts on, or that shows nothing: controls and format characters."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") and ch not in _JOINERS


def printable(text: str, newlines: bool = True) -> str:
    """`text` for a terminal: escape sequences and controls removed, tabs as spaces, line breaks kept as
    newlines (or made spaces when `newlines` is false, for one-line places like a title)."""
    if text.isprintable():  # the usual text, at the cost of one scan
        return text
    out = []
    for ch in _SEQUENCE.sub("", text):
        if ch in _LINE_BREAKS:
            out.append("\n" if newlines else " ")
        elif ch == "\t":
            out.append(" ")
        elif not _hidden(ch):
            out.append(ch)
    return "".join(out)


def escaped(text: str) -> str:
    """`text` on one line with every control or format character written as an escape (\\n, \\u001b, \\u202e),
    so an error message shows what is in the file instead of acting on the terminal."""
    if text.isprintable():
        return text
    return "".join(_SHORT_ESCAPES.get(ch) or (f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
                   if _hidden(ch) else ch for ch in text)
