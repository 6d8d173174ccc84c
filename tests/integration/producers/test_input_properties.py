"""Property tests of what producers hand relay: any input gets a clear error naming the
field (`InvalidInput`; the CLI exits 2 with one message) or a receipt — never a traceback,
never a half-written row. Real PostgreSQL and Redis; bounded by max_examples/deadline."""

from __future__ import annotations

import io
import json
import re
import sys
import uuid
from contextlib import redirect_stderr, redirect_stdout

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifications import record_order_event
from relay.cli import main
from relay.db import connection
from relay.errors import InvalidInput
from relay.settings import reset_settings_cache
from sync_worker import enqueue_email_change
from sync_worker.models import Receipt
from tests.support.events import event as order_event

TABLES = ("email_changes", "email_change_customers", "outbox", "order_events",
          "notifications", "attempts")
EMAIL_PARAMS = ("customer_id", "current_email", "new_email", "brand", "country",
                "requested_by", "request_id")
BOUNDED = settings(max_examples=120, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])
CLI_BOUNDED = settings(BOUNDED, max_examples=40)   # each run loads the CLI's settings

# Any text at all: control characters, NUL, lone surrogates (what undecodable argv bytes
# become), right-to-left marks, very long strings.
ANY_TEXT = st.text(st.characters(codec=None, categories=None), max_size=300)
ARG_TEXT = ANY_TEXT.filter(lambda s: "\x00" not in s)   # argv cannot hold NUL
GARBAGE = st.one_of(ANY_TEXT, st.none(), st.integers(), st.floats(), st.booleans(),
                    st.lists(st.integers(), max_size=3), st.dictionaries(ANY_TEXT, ANY_TEXT,
                                                                         max_size=2),
                    st.binary(max_size=20))
LOCAL = st.from_regex(r"[a-z][a-z0-9.+]{0,12}", fullmatch=True).filter(
    lambda s: ".." not in s and not s.endswith("."))
# Valid values, in the shapes producers really send (case, spaces); `new_email` differs
# from `current_email` by construction.
VALID = {
    "customer_id": st.from_regex(r"C-[0-9]{1,6}", fullmatch=True),
    "current_email": LOCAL.map(lambda s: f"{s}@example.com"),
    "new_email": LOCAL.map(lambda s: f" New.{s}@Example.com "),
    "brand": st.sampled_from(["acme", "globex", " ACME "]),
    "country": st.sampled_from(["ES", "fr", " de "]),
    "requested_by": st.one_of(st.none(), st.from_regex(r"agent-[0-9]{1,3}", fullmatch=True)),
    "request_id": st.one_of(st.none(), st.uuids().map(str)),
}
# Wrong in the ways people get things wrong, plus anything at all.
BROKEN = {
    "customer_id": st.one_of(st.just(""), st.just("C-1\n2"), st.text(min_size=65)),
    "current_email": st.sampled_from(["", "ana", "ana@", "@example.com", "a b@example.com"]),
    "new_email": st.sampled_from(["", "x@", "ana@example.com"]),
    "brand": st.sampled_from(["nope", "", "acme,globex"]),
    "country": st.sampled_from(["XX", "ESP", "", "E"]),
    "requested_by": st.sampled_from(["\x07bell", "x" * 129]),
    "request_id": st.sampled_from(["", "  ", "\x1b[31m", "r" * 129]),
}


def _email_change_args(data, *, cli: bool = False) -> dict:
    """Every field valid but a drawn few, which are broken or anything at all."""
    broken = data.draw(st.sets(st.sampled_from(EMAIL_PARAMS), max_size=3), label="broken")
    anything = ARG_TEXT if cli else GARBAGE
    args = {}
    for name in EMAIL_PARAMS:
        strategy = st.one_of(BROKEN[name], anything) if name in broken else VALID[name]
        args[name] = data.draw(strategy, label=name)
    return args


def note(outcome: str) -> None:
    """Statistics for `--hypothesis-show-statistics`: how often each outcome came up."""
    from hypothesis import event

    event(outcome)


def _counts() -> dict[str, int]:
    with connection() as conn:
        row = conn.execute("SELECT " + ", ".join(
            f"(SELECT count(*) FROM {t}) AS {t}" for t in TABLES)).fetchone()
        conn.commit()
    return dict(row)


@pytest.fixture
def producers(db, broker, relay_env, monkeypatch):
    for name, value in relay_env.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    yield
    monkeypatch.undo()
    reset_settings_cache()


@BOUNDED
@given(data=st.data())
def test_enqueue_email_change_gives_a_receipt_or_invalid_input_naming_a_field(producers,
                                                                             data):
    args = _email_change_args(data)
    before = _counts()
    try:
        receipt = enqueue_email_change(**args)
    except InvalidInput as exc:
        note(f"InvalidInput {exc.field}")
        assert exc.field in EMAIL_PARAMS, exc
        assert exc.message and "\n" not in str(exc)
        assert _counts() == before
    else:
        note("receipt")
        assert isinstance(receipt, Receipt)
        with connection() as conn:
            row = conn.execute("SELECT state FROM email_changes WHERE id = %s",
                               (receipt.change_id,)).fetchone()
            conn.commit()
        assert row is not None


def _mutations(min_size: int = 1):
    """(path, value | DELETE) changes to a valid event: garbage anywhere in it."""
    paths = ["event_id", "type", "order_id", "occurred_at", "brand", "country", "locale",
             "customer", "customer.customer_id", "customer.email", "customer.phone",
             "customer.push_token", "customer.channels", "customer.marketing_opt_in",
             "order", "order.items", "order.tracking_url", "order.eta", "order.number",
             "extra_field"]
    value = st.one_of(GARBAGE, st.just(_DELETE))
    return st.lists(st.tuples(st.sampled_from(paths), value), min_size=min_size, max_size=3)


_DELETE = object()


def _apply(doc: dict, changes) -> dict:
    for path, value in changes:
        *parents, leaf = path.split(".")
        target = doc
        for part in parents:
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if value is _DELETE:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return doc


@BOUNDED
@given(kind=st.sampled_from(["order_confirmed", "shipped", "delivered", "promotion"]),
       changes=_mutations())
def test_record_order_event_gives_notifications_or_invalid_input(producers, kind, changes):
    doc = _apply(order_event(kind), changes)
    before = _counts()
    try:
        notes = record_order_event(doc)
    except InvalidInput as exc:
        note("InvalidInput")
        assert exc.field and exc.message and "\n" not in str(exc)
        assert _counts() == before
    else:
        note("notifications")
        assert isinstance(notes, list)


@BOUNDED
@given(doc=st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), ANY_TEXT),
                        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                st.dictionaries(ANY_TEXT, inner, max_size=3)),
                        max_leaves=8))
def test_record_order_event_with_any_json_value_is_invalid_input(producers, doc):
    before = _counts()
    with pytest.raises(InvalidInput):
        record_order_event(doc)
    assert _counts() == before


# -- the CLI, in-process: the very main() the `relay` script runs ------------------------

def _cli(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv, sys.stdin
    sys.argv, sys.stdin = ["relay", *argv], io.StringIO(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv, sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


OPTION = {"customer_id": "--customer-id", "current_email": "--current-email",
          "new_email": "--new-email", "brand": "--brand", "country": "--country",
          "requested_by": "--requested-by", "request_id": "--request-id"}


@CLI_BOUNDED
@given(data=st.data())
def test_cli_enqueue_email_change_exits_0_with_an_id_or_2_with_a_message(producers, data):
    argv = ["enqueue", "email-change"]
    args = _email_change_args(data, cli=True)
    dropped = data.draw(st.sets(st.sampled_from(EMAIL_PARAMS), max_size=1), label="left out")
    for name, value in args.items():
        if value is not None and name not in dropped:
            argv += [OPTION[name], value]
    if data.draw(st.booleans(), label="--json"):
        argv.append("--json")
    before = _counts()
    code, out, err = _cli(argv)
    assert "Traceback" not in err
    note(f"exit {code}")
    if code == 0:
        change_id = json.loads(out)["change_id"] if "--json" in argv else out.strip()
        uuid.UUID(change_id)
    else:
        assert code == 2, (code, err)
        assert err.strip(), "exit 2 says why"
        assert re.search(r"invalid input|Missing option|Usage|Error", err), err
        assert _counts() == before


@CLI_BOUNDED
@given(text=st.one_of(
    ARG_TEXT,
    st.builds(lambda kind, changes: json.dumps(_apply(order_event(kind), changes), default=str),
              st.sampled_from(["order_confirmed", "shipped", "promotion"]), _mutations(0)),
    st.lists(st.builds(lambda kind, changes: json.dumps(_apply(order_event(kind), changes),
                                                        default=str),
                       st.sampled_from(["packed", "delivered"]), _mutations(0)),
             min_size=2, max_size=3).map("\n".join)))
def test_cli_enqueue_order_event_exits_0_or_2_and_writes_nothing_on_2(producers, text):
    before = _counts()
    code, out, err = _cli(["enqueue", "order-event", "-", "--json"], stdin=text)
    assert "Traceback" not in err
    note(f"exit {code}")
    if code == 0:
        assert json.loads(out)["events"] >= 1
    else:
        assert code == 2, (code, err)
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("relay: invalid input: "), err
        assert _counts() == before
