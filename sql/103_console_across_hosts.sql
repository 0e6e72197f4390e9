-- An instance that moves to another host (evacuation, live or cold; recovery after an outage)
-- has a new console log there, and that host's agent sends its tail from the start. What the
-- former host had sent is kept in front of it (the last 64 KiB of the history, like the tail), so
-- that GET /api/v1/instances/{id}/console shows the instance's output across the move.
ALTER TABLE instance_consoles ADD COLUMN host_id uuid;  -- whose tail `output` is; NULL: before 103
ALTER TABLE instance_consoles ADD COLUMN carried bytea NOT NULL DEFAULT ''::bytea;
ALTER TABLE instance_consoles ADD COLUMN carried_bytes bigint NOT NULL DEFAULT 0;
