"""Render a notification's text from Jinja2 templates chosen by brand and locale.

Layout (under `notifications/templates/`)::

    <dir>/<event_type>.<channel>.txt.j2     named blocks for the plain parts
    <dir>/<event_type>.email.html.j2        the HTML body of an email (autoescaped)
    <dir>/_layout.email.html.j2, _macros.*  shared pieces, resolved the same way

Blocks per channel: email → `subject`, `text` (+ the .html.j2 file); sms → `body`;
push and inapp → `title`, `body`.

`<dir>` is searched in this order, first match wins, file by file (a brand may override
just the HTML and keep the default text, or just its layout)::

    <brand>/<ll-RR>  →  <brand>/<ll>  →  <brand>  →  default/<ll-RR>  →  default/<ll>  →  default

e.g. brand "acme", locale "es-ES": acme/es-ES, acme/es, acme, default/es-ES, default/es,
default. `extends`/`import` inside a template resolve through the same order.

Why these choices: autoescape is decided by file name (`*.html.j2` on, text off), so a
brand override cannot forget it; `StrictUndefined` makes a misspelt or missing variable
raise instead of sending "Your order  is on its way". Templates get the whole OrderEvent
(pass every field, `None` when absent, as `model_dump()` does) plus `brand_name`,
`language`, and for promotions the `unsubscribe_url` the service builds. Write
`order["items"]`: `order.items` is the dict method. Filters: `long_date` (an ISO date in
the message's language), `link` (only http(s) URLs pass; anything else becomes "").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    pass_context,
    select_autoescape,
)
from pydantic import BaseModel, ConfigDict

from relay.errors import RelayError
from relay.logs import get_logger

log = get_logger(__name__)

TEMPLATE_ROOT = Path(__file__).parent / "templates"
EVENT_TYPES = ("order_confirmed", "packed", "shipped", "out_for_delivery", "delivered",
               "promotion", "delay_notice")
CHANNEL_PARTS = {"email": ("subject", "text"), "sms": ("body",),
                 "push": ("title", "body"), "inapp": ("title", "body")}
SMS_MAX_CHARS = 300  # two concatenated GSM segments; keeps cost and truncation in check
_BRAND_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_LOCALE_RE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|\d{3}))?$")
MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
}


class RenderError(RelayError, ValueError):
    """A template is missing or failed (e.g. an undefined variable). Names the template."""


class RenderedMessage(BaseModel):
    """The text of one notification. email: subject/body/html; sms: body;
    push and inapp: title/body. `sources` maps each part to the template file used."""

    model_config = ConfigDict(frozen=True)

    event_type: str
    channel: str
    brand: str
    locale: str | None
    subject: str | None = None
    title: str | None = None
    body: str
    html: str | None = None
    sources: dict[str, str]


def search_dirs(brand: str, locale: str | None) -> list[str]:
    """Template directories for (brand, locale), most specific first (relative paths)."""
    if not _BRAND_RE.match(brand):
        raise RenderError(f"invalid brand code {brand!r}")
    localized: list[str] = []
    match = _LOCALE_RE.match(locale or "")
    if match:
        lang, region = match.group(1).lower(), match.group(2)
        if region:
            localized.append(f"{lang}-{region.upper()}")
        localized.append(lang)
    dirs = [f"{brand}/{loc}" for loc in localized] + [brand]
    dirs += [f"default/{loc}" for loc in localized] + ["default"]
    return list(dict.fromkeys(dirs))  # brand "default" would repeat itself


def _long_date(value: Any, language: str) -> str:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        return str(value)
    if language == "es":
        return f"{value.day} de {MONTHS['es'][value.month - 1]}"
    return f"{MONTHS['en'][value.month - 1]} {value.day}"


@pass_context
def _long_date_filter(ctx, value: Any) -> str:
    return _long_date(value, ctx.get("language") or "en")


def _link(value: Any) -> str:
    """Only http(s) URLs reach an href; anything else (javascript:, data:) becomes ''."""
    text = str(value or "")
    return text if text.startswith(("https://", "http://")) else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _paragraphs(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


class Renderer:
    """Templates under one root directory. `render()` below uses the packaged ones."""

    def __init__(self, root: Path = TEMPLATE_ROOT) -> None:
        self.root = Path(root)
        self._environment = lru_cache(maxsize=256)(self._build_environment)

    def _build_environment(self, dirs: tuple[str, ...]) -> Environment:
        env = Environment(
            loader=FileSystemLoader([str(self.root / d) for d in dirs]),
            autoescape=select_autoescape(enabled_extensions=("html.j2", "html"),
                                         default_for_string=False, default=False),
            undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
            auto_reload=False,
        )
        env.filters["long_date"] = _long_date_filter
        env.filters["link"] = _link
        return env

    def render(self, event_type: str, channel: str, context: Mapping[str, Any] | BaseModel,
               brand: str, locale: str | None = None) -> RenderedMessage:
        if event_type not in EVENT_TYPES:
            raise RenderError(f"unknown event type {event_type!r}")
        if channel not in CHANNEL_PARTS:
            raise RenderError(f"unknown channel {channel!r}")
        env = self._environment(tuple(search_dirs(brand, locale)))
        variables = self._variables(context, brand, locale)
        parts: dict[str, str] = {}
        sources: dict[str, str] = {}
        text_name = f"{event_type}.{channel}.txt.j2"
        for part in CHANNEL_PARTS[channel]:
            parts[part], sources[part] = self._render_block(env, text_name, part, variables)
        if channel == "email":
            parts["html"], sources["html"] = self._render_file(
                env, f"{event_type}.email.html.j2", variables)
        return self._assemble(event_type, channel, brand, locale, parts, sources)

    def _variables(self, context: Mapping[str, Any] | BaseModel, brand: str,
                   locale: str | None) -> dict[str, Any]:
        data = context.model_dump(mode="json") if isinstance(context, BaseModel) else dict(context)
        match = _LOCALE_RE.match(locale or "")
        data.setdefault("brand", brand)
        data.setdefault("locale", locale)
        data.setdefault("brand_name", brand.replace("_", " ").replace("-", " ").title())
        data["language"] = match.group(1).lower() if match else "en"
        return data

    def _template(self, env: Environment, name: str):
        try:
            return env.get_template(name)
        except TemplateNotFound:
            raise RenderError(f"no template {name} in {env.loader.searchpath}") from None  # type: ignore[union-attr]

    def _source(self, template) -> str:
        return str(Path(template.filename).relative_to(self.root))

    def _render_block(self, env: Environment, name: str, block: str,
                      variables: dict[str, Any]) -> tuple[str, str]:
        template = self._template(env, name)
        if block not in template.blocks:
            raise RenderError(f"{self._source(template)} has no block {block!r}")
        try:
            text = "".join(template.blocks[block](template.new_context(variables)))
        except TemplateError as exc:
            raise RenderError(f"{self._source(template)} block {block}: {exc}") from exc
        return text, self._source(template)

    def _render_file(self, env: Environment, name: str,
                     variables: dict[str, Any]) -> tuple[str, str]:
        template = self._template(env, name)
        try:
            return template.render(variables), self._source(template)
        except TemplateError as exc:
            raise RenderError(f"{self._source(template)}: {exc}") from exc

    @staticmethod
    def _assemble(event_type: str, channel: str, brand: str, locale: str | None,
                  parts: dict[str, str], sources: dict[str, str]) -> RenderedMessage:
        body = parts.get("text", parts.get("body", ""))
        body = _one_line(body) if channel == "sms" else _paragraphs(body)
        if channel == "sms" and len(body) > SMS_MAX_CHARS:
            # Last resort: templates keep SMS short; a freak long value must not block it.
            log.warning("render.sms_truncated", event_type=event_type, brand=brand,
                        length=len(body))
            body = body[: SMS_MAX_CHARS - 1].rstrip() + "…"
        return RenderedMessage(
            event_type=event_type, channel=channel, brand=brand, locale=locale,
            subject=_one_line(parts["subject"]) if "subject" in parts else None,
            title=_one_line(parts["title"]) if "title" in parts else None,
            body=body, html=parts.get("html", "").strip() or None, sources=sources)


_default_renderer: Renderer | None = None


def render(event_type: str, channel: str, context: Mapping[str, Any] | BaseModel,
           brand: str, locale: str | None = None) -> RenderedMessage:
    """Render with the packaged templates. Raises RenderError (a ValueError) on failure."""
    global _default_renderer
    if _default_renderer is None:
        _default_renderer = Renderer()
    return _default_renderer.render(event_type, channel, context, brand, locale)
