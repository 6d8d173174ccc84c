-- Waiting out an outage (notifications/service.py, planning.after_every_channel): when
-- every channel of an event has failed transiently, its channels go back to standby and
-- are tried again, in order, after a jittered backoff. `rounds` counts those repeats on
-- each row (the backoff grows with it); 0 for an event that never needed one.
ALTER TABLE notifications ADD COLUMN rounds integer NOT NULL DEFAULT 0;
