-- notification_claim (relay/sql/notifications.sql) also returns how long a first attempt
-- waited to be claimed: a new result column, which CREATE OR REPLACE cannot add.
DROP FUNCTION IF EXISTS notification_claim(uuid, uuid, double precision);
