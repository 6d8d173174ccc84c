"""What every feature group of settings shares: the base class and the field helpers.

A group is a pydantic-settings class holding one feature's variables (`sync.py`: the
email sync toward Homeria, `sla.py`: the 2-hour promise, ...). `relay.settings.Settings`
inherits them all, so one validation at start-up covers every variable relay reads and
each field keeps its flat name (`get_settings().homeria_max_rps`), which is the
variable's name in lower case.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, SettingsConfigDict

# How a blank value (`VAR=` in a compose file) is read, per field (`blank=`):
# "default": as if unset; "unset": None; None: validated as given (usually refused).
BLANK_DEFAULT = "default"
BLANK_UNSET = "unset"


def setting(default: Any, env: str, doc: str, *, blank: str | None = None,
            **bounds: Any) -> Any:
    """A field read from variable `env`; `doc` is what the README's table says of it."""
    extra = {"blank": blank} if blank else None
    return Field(default, alias=env, description=doc, json_schema_extra=extra, **bounds)


def seconds(default: float, env: str, doc: str, *, blank: str | None = None,
            **bounds: Any) -> Any:
    """A finite duration in seconds (> 0 unless `bounds` say otherwise)."""
    if not {"gt", "ge"} & bounds.keys():
        bounds["gt"] = 0
    return setting(float(default), env, doc, blank=blank, allow_inf_nan=False, **bounds)


class Group(BaseSettings):
    """Base of the feature groups: read from the environment, frozen, unknown ignored."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blank(cls, v: Any, info: ValidationInfo) -> Any:
        if not (isinstance(v, str) and not v.strip()) or info.field_name is None:
            return v
        extra = cls.model_fields[info.field_name].json_schema_extra
        rule = extra.get("blank") if isinstance(extra, dict) else None
        if rule == BLANK_DEFAULT:
            raise PydanticUseDefault()
        return None if rule == BLANK_UNSET else v
