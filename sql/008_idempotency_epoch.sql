-- The epoch of the controller that reserved an Idempotency-Key. A reservation left unfinished by
-- an older epoch (the leader died or was deposed mid-request) is taken over at once by a retry
-- to the new leader, instead of after the abandonment timeout.
ALTER TABLE idempotency_keys
  ADD COLUMN epoch bigint NOT NULL DEFAULT coalesce(nullif(current_setting('harmony.epoch', true), '')::bigint, 0);
