"""Streamed model text, redacted as the log redacts it before anyone sees it.

A secret can arrive split across chunks, so text is let through in whole words (a token
is one word, and is shown only once it is complete), and a line that holds any word a
rule looks for (`password`, `token`, `ghp_`, `Bearer`, ...) only once the line after it is
complete too (`aws_secret_access_key =` on one line, the key on the next). A PEM block is
held whole until its END line. A chunk without a space or a newline cannot complete a
word, so it costs nothing; ordinary prose streams word by word.
"""

from __future__ import annotations

from sage_tui.core.log.redaction import may_hold_secret, redact

MAX_HELD = 64 * 1024  # past this, held text is let go (redacted as it stands)
HOLD = 1024  # what stays held when it is


class StreamRedactor:
    """Feed chunks in; get back the redacted text that is safe to show now."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> str:
        self._pending += text
        if len(self._pending) <= MAX_HELD and not any(c in text for c in " \n\t"):
            return ""  # nothing new can be let through: no word was completed
        cut = self._cut()
        if cut <= 0:
            return ""
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return redact(out)

    def finish(self) -> str:
        """The rest, at the end of the stream; the redactor is then empty for the next."""
        out, self._pending = self._pending, ""
        return redact(out) if out else ""

    def _cut(self) -> int:
        pending = self._pending
        if len(pending) > MAX_HELD:  # let go of the oldest part, at a word's edge
            limit = len(pending) - HOLD
            return max(pending.rfind(" ", 0, limit), pending.rfind("\n", 0, limit)) + 1 \
                or limit
        cut = max(pending.rfind(" "), pending.rfind("\n"), pending.rfind("\t")) + 1
        line = pending.rfind("\n", 0, cut) + 1  # the start of the line the cut is in
        if line < cut and may_hold_secret(pending[line:cut]):
            cut = line  # a line that may hold a secret is shown whole
        if line > 0:  # and the line before it, whose secret may be on this line
            previous = pending.rfind("\n", 0, line - 1) + 1
            if may_hold_secret(pending[previous:line]):
                cut = min(cut, previous)
        begin = pending.rfind("-----BEGIN", 0, cut)
        if begin >= 0 and pending.find("-----END", begin, cut) < 0:
            cut = begin  # a key block is shown whole or not yet
        return cut
