"""Bulk publishing writes the same messages kombu writes, one Redis pipeline per batch."""

from __future__ import annotations

import base64
import json

from relay import brokerinfo, canary, outbox
from relay.celery_app import app
from relay.db import connection


def test_pipelined_envelope_matches_what_send_task_writes(broker, redis_client):
    app.send_task("relay.canary.run", args=["x"], queue="maintenance")
    (raw,) = redis_client.lrange("maintenance", 0, -1)
    by_kombu = json.loads(raw)
    ours = json.loads(brokerinfo.kombu_envelope(app, "relay.canary.run", ["x"], "maintenance"))
    assert set(ours) == set(by_kombu)
    assert set(ours["headers"]) == set(by_kombu["headers"])
    assert set(ours["properties"]) == set(by_kombu["properties"])
    for key in ("content-type", "content-encoding", "body"):
        assert ours[key] == by_kombu[key]
    assert ours["headers"]["task"] == "relay.canary.run"
    assert ours["properties"]["delivery_info"] == by_kombu["properties"]["delivery_info"]
    assert json.loads(base64.b64decode(ours["body"]))[0] == ["x"]
    # each message has its own id (in all three places kombu puts it) and delivery tag
    second = json.loads(brokerinfo.kombu_envelope(app, "relay.canary.run", ["y"],
                                                  "maintenance"))
    for message, arg in ((ours, "x"), (second, "y")):
        task_id = message["headers"]["id"]
        assert message["headers"]["root_id"] == message["properties"]["correlation_id"] \
            == task_id
        assert message["headers"]["argsrepr"] == repr([arg])
    assert ours["headers"]["id"] != second["headers"]["id"]
    assert ours["properties"]["delivery_tag"] != second["properties"]["delivery_tag"]


def test_a_batch_goes_out_in_one_pipeline_and_a_dead_broker_unmarks_it(db, broker,
                                                                       redis_client,
                                                                       monkeypatch):
    ids = [canary.send("maintenance") for _ in range(30)]
    redis_client.flushdb()
    pubs = [outbox.Publication(i, canary.TASK, "maintenance") for i in ids]
    assert outbox.publish_now(pubs) == 30
    assert redis_client.llen("maintenance") == 30
    # a broker that is down: nothing sent, every row unmarked for the next sweep
    import redis

    monkeypatch.setattr(brokerinfo, "client", lambda: redis.Redis(port=1,
                                                                  socket_connect_timeout=0.2))
    assert outbox.publish_now(pubs) == 0
    with connection() as conn:
        rows = conn.execute("SELECT published_at FROM outbox WHERE entity_id = ANY(%s)",
                            (ids,)).fetchall()
        conn.commit()
    assert {r["published_at"] for r in rows} == {None}
