"""Text from a model, a file or a log, made safe to print on a terminal.

A model's answer, a file name or a logged string can carry terminal control
sequences: `ESC]52` writes the clipboard, `ESC[2J` clears the screen, a bare carriage
return overwrites what is shown. `plain` removes every control character and
sequence (C0 except newline and tab, DEL, C1, and whole ESC sequences), so only SAGE's
own styling, added after, reaches the terminal. JSON output needs none of this: JSON
escapes control characters itself.
"""

from __future__ import annotations

import re

_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, screen clears
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, clipboard (52), hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # any other escape
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # lone controls (CR, BEL, backspace, C1 such as CSI)
)


def plain(text: str) -> str:
    """`text` without terminal control sequences; newlines and tabs stay."""
    if text.isprintable():
        return text
    return _SEQUENCE.sub("", text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # \u2028: a line break too


def one_line(name: str) -> str:
    """A file name (or any short text) as one line: control characters, newlines and tabs
    included, written as escapes (`\\n`, `\\x1b`), so a name cannot forge lines in a list."""
    if name.isprintable():
        return name
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], name)


def code_line(line: str) -> str:
    """One line of a file as a hit shows it (`search_code`, the retrieval packet): stripped,
    tabs as spaces, and any other character that starts a line for a reader (a carriage
    return, a vertical tab, NEL) escaped, so a file's line cannot forge more lines."""
    return one_line(line.strip().replace("\t", " "))


def shown(text: str) -> str:
    """Text as SAGE may print it: secrets redacted as in the log, then `plain`."""
    from sage_tui.core.log.redaction import redact

    return plain(redact(text))
