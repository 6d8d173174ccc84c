"""A campaign's messages rendered once, not once per recipient.

Every recipient of a campaign gets the same promotion for its brand and locale; what
differs is the one-click unsubscribe link (and the address the message goes to, which no
default template prints). Rendering the templates (Jinja, ~0.3 ms) and building the
context (`model_dump`, ~0.1 ms) per message was a third of a promotion's CPU. So the
parts are rendered once per (event type, channel, brand, locale, campaign, expiry) with a
marker in place of the link, and each message fills its own link in.

This is only done when it is provably the same as rendering per message:

- every template the message uses (the part files and whatever they extend, import or
  include, found by Jinja's own `meta` analysis) reads no variable outside
  CAMPAIGN_CONSTANT + `unsubscribe_url` — no `customer`, no `event_id`. A brand that
  greets by customer id simply gets per-message rendering;
- the link is used as an opaque string: rendering with two different markers gives parts
  that differ exactly where one marker (HTML-escaped in the HTML part) replaces the other.

Otherwise, and for anything unexpected, `compose` falls back to notifications.compose.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from jinja2 import TemplateNotFound, meta, nodes
from markupsafe import escape

from notifications import rendering
from notifications.compose import compose as compose_one
from notifications.compose import unsubscribe_link
from notifications.models import OrderEvent
from notifications.payloads import EmailMessage

# Variables that are the same for every recipient sharing a cache key (the key holds
# brand, locale, campaign and expiry; brand_name and language follow from them).
CAMPAIGN_CONSTANT = frozenset({"campaign", "brand", "brand_name", "language", "locale",
                               "type", "expires", "unsubscribe_url"})
_MARKERS = ("https://relay.invalid/u?m=1&k=RELAYMARKERONE",
            "https://relay.invalid/u?m=2&k=RELAYMARKERTWO")
_NOT_CACHEABLE = object()


@dataclass(frozen=True)
class _Parts:
    subject: str
    text: str
    html: str


_cache: dict[tuple, object] = {}
_lock = threading.Lock()
_renderer = rendering.Renderer()   # the packaged templates, as rendering.render uses


def compose(channel: str, notification_id: str, event: OrderEvent):
    """The channel payload for one recipient: from the campaign's cached parts for email,
    else (other channels, templates that read per-recipient data) per message."""
    parts = _parts(channel, event) if channel == "email" and event.is_promotion else None
    if parts is None:
        return compose_one(channel, notification_id, event)
    link = unsubscribe_link(event)
    if not link.startswith("https://"):
        return compose_one(channel, notification_id, event)
    return EmailMessage(
        notification_id=notification_id, to=event.customer.email or "",
        subject=parts.subject.replace(_MARKERS[0], link),
        text=parts.text.replace(_MARKERS[0], link),
        html=parts.html.replace(str(escape(_MARKERS[0])), str(escape(link))),
        promotion=True, unsubscribe_url=link)


def _key(channel: str, event: OrderEvent) -> tuple | None:
    campaign = event.campaign
    try:
        fields = tuple(sorted(vars(campaign).items())) if campaign is not None else None
        key = (event.type.value, channel, event.brand, event.locale, fields,
               event.expires.isoformat() if event.expires else None)
        hash(key)
    except (TypeError, AttributeError):
        return None
    return key


def _parts(channel: str, event: OrderEvent) -> _Parts | None:
    key = _key(channel, event)
    if key is None:
        return None
    found = _cache.get(key)
    if found is None:
        found = _build(channel, event)
        with _lock:
            if len(_cache) > 1024:   # campaigns come and go; a worker lives long
                _cache.clear()
            _cache[key] = found
    return None if found is _NOT_CACHEABLE else found  # type: ignore[return-value]


def _build(channel: str, event: OrderEvent) -> object:
    try:
        if not reads_only_campaign_constants(event.type.value, channel, event.brand,
                                             event.locale):
            return _NOT_CACHEABLE
        context = event.template_context()
        rendered = []
        for marker in _MARKERS:
            context["unsubscribe_url"] = marker
            text = rendering.render(event.type.value, channel, context, event.brand,
                                    event.locale)
            rendered.append(_Parts(text.subject or "", text.body, text.html or ""))
    except (rendering.RenderError, TemplateNotFound):
        return _NOT_CACHEABLE   # the per-message path raises it where it is handled
    one, two = rendered
    plain, html = (_MARKERS[0], _MARKERS[1]), (str(escape(_MARKERS[0])), str(escape(_MARKERS[1])))
    if (one.subject.replace(*plain), one.text.replace(*plain), one.html.replace(*html)) != \
            (two.subject, two.text, two.html):
        return _NOT_CACHEABLE   # the link is not used as an opaque string
    if _MARKERS[0] not in one.text and plain[0] not in one.html and html[0] not in one.html:
        return _NOT_CACHEABLE   # the link is not printed as it is: decide per message
    return one


def reads_only_campaign_constants(event_type: str, channel: str, brand: str,
                                  locale: str | None) -> bool:
    """True when no template the message uses reads a variable outside CAMPAIGN_CONSTANT
    (Jinja's static analysis over the part files and what they extend/import/include)."""
    env = _renderer._environment(tuple(rendering.search_dirs(brand, locale)))
    names = [f"{event_type}.{channel}.txt.j2"]
    if channel == "email":
        names.append(f"{event_type}.email.html.j2")
    seen: set[str] = set()
    while names:
        name = names.pop()
        if name in seen:
            continue
        seen.add(name)
        source, _, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
        tree = env.parse(source)
        if not meta.find_undeclared_variables(tree) - _imported(tree) <= CAMPAIGN_CONSTANT:
            return False
        for referenced in meta.find_referenced_templates(tree):
            if referenced is None:   # a computed template name: cannot be followed
                return False
            names.append(referenced)
    return True


def _imported(tree: nodes.Template) -> set[str]:
    """Names a template imports at its top ({% from … import button %}): blocks read them
    from the context, so Jinja's analysis lists them as undeclared; they are macros of
    templates that are themselves checked."""
    names = {node.target for node in tree.find_all(nodes.Import)}
    for node in tree.find_all(nodes.FromImport):
        names.update(n[1] if isinstance(n, tuple) else n for n in node.names)
    return names
