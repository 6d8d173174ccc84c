"""Errors that cross relay's public surface.

`InvalidInput` is what producers and the CLI raise for bad input: a `ValueError` whose
message names the offending field, so callers can show it as-is (the CLI exits 2).
"""

from __future__ import annotations


class RelayError(Exception):
    """Base class for relay's own errors."""


class InvalidInput(RelayError, ValueError):
    """Bad input from a caller; nothing was written.

    `field` / `message` name the first problem (what older callers read); `errors` lists
    every problem as (field, message) pairs, so a caller fixes them all in one go — the
    CLI prints them all and the HTTP API returns them as a 422's `errors`.
    """

    def __init__(self, field: str, message: str,
                 errors: list[tuple[str, str]] | None = None) -> None:
        self.field = field
        self.message = message
        self.errors: list[tuple[str, str]] = list(errors or [(field, message)])
        if len(self.errors) == 1:
            super().__init__(f"{field}: {message}")
        else:
            super().__init__("; ".join(f"{f}: {m}" for f, m in self.errors))

    def prefixed(self, where: str) -> InvalidInput:
        """The same problems with every field prefixed (`line 3: customer.email`)."""
        return InvalidInput(f"{where}: {self.field}", self.message,
                            [(f"{where}: {f}", m) for f, m in self.errors])

    @classmethod
    def combine(cls, problems: list[InvalidInput]) -> InvalidInput:
        """Several InvalidInputs as one listing every problem (first one first)."""
        errors = [e for p in problems for e in p.errors]
        return cls(errors[0][0], errors[0][1], errors)

    @classmethod
    def from_validation_error(cls, exc) -> InvalidInput:
        """Turn a pydantic ValidationError into one InvalidInput naming every bad field."""
        errors = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err.get("loc", ())) or "input"
            msg = err.get("msg", "invalid value").removeprefix("Value error, ")
            errors.append((field, msg))
        return cls(errors[0][0], errors[0][1], errors)


class ConfigurationError(RelayError):
    """A missing or malformed environment variable. The message is one line naming it."""


class NotFound(RelayError, LookupError):
    """A record named by the caller does not exist."""
