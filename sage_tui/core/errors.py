"""Typed errors a user can cause, each carrying one sentence that says what to do.

The command line turns a `SageError` into its message on stderr and its `exit_code`
(DESIGN.md §8: 1 task failed, 2 usage or configuration error); the UI shows the same
sentence in a banner. Nothing a user can cause should reach them as a traceback.
"""

from __future__ import annotations


class SageError(Exception):
    """Base class for errors whose message is meant for the user as it stands."""

    exit_code: int = 1


class ConfigError(SageError):
    """A setting, environment variable or configuration file is invalid."""

    exit_code = 2


class UsageError(SageError):
    """The command line asked for something that cannot be done as asked."""

    exit_code = 2


def not_utf8(source: str, data: bytes, exc: UnicodeDecodeError) -> ConfigError:
    """One line for a text file that is not UTF-8: the file, the line and the byte."""
    line = data.count(b"\n", 0, exc.start) + 1
    return ConfigError(f"{source}, line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                       "save the file as UTF-8.")
