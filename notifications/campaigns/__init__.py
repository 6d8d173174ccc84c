"""Campaigns: one promotion sent to an audience, controlled as one thing.

    models.py    the campaign document and the audience lines, validated before any write
    store.py     the SQL: the campaign row (its state is what workers check), counts
    service.py   create, start, pause, resume, cancel, show
    sending.py   the batch send: one claim and one outcome statement per batch of ids
    throttle.py  token buckets in Redis: per campaign (max_per_second), per provider

Each recipient becomes an ordinary `promotion` OrderEvent (event id
`campaign:<campaign id>:<customer id>`) recorded by the notifications intake, so opt-in,
expiry, channel choice and quiet hours are decided per recipient exactly as for promotion
events (planning.plan at intake, the claim at send time) and rendered by the same
templates. The rows carry `campaign_id`.
"""
