"""Errors that cross relay's public surface.

`InvalidInput` is what producers and the CLI raise for bad input: a `ValueError` whose
message names the offending field, so callers can show it as-is (the CLI exits 2).
"""

from __future__ import annotations


class RelayError(Exception):
    """Base class for relay's own errors."""


class InvalidInput(RelayError, ValueError):
    """Bad input from a caller. `field` names what is wrong; nothing was written."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    @classmethod
    def from_validation_error(cls, exc) -> InvalidInput:
        """Turn a pydantic ValidationError into one message naming the first bad field."""
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ())) or "input"
        msg = err.get("msg", "invalid value")
        msg = msg.removeprefix("Value error, ")
        more = len(exc.errors()) - 1
        if more:
            msg += f" (and {more} more problem{'s' if more > 1 else ''})"
        return cls(field, msg)


class ConfigurationError(RelayError):
    """A missing or malformed environment variable. The message is one line naming it."""


class NotFound(RelayError, LookupError):
    """A record named by the caller does not exist."""
