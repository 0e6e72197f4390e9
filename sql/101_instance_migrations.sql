-- Live migration in planned evacuation (contract: Sparkle's evacuation job drives one attempt,
-- both agents carry it out, see src/sparkle/placement/evacuation_job.cpp). One row per attempt:
--   preparing: the target prepares the instance's storage (listed there with an incoming order);
--   migrating: the target reported its files, the source sends the running domain to it;
--   succeeded: the target runs it and the source let it go; instances.host_id is the target;
--   failed:    it still runs on the source only (the evacuation moves it cold instead);
--   cancelled: maintenance ended while the target was still preparing.
-- The instance row keeps host_id = source until the attempt succeeds.
CREATE TABLE instance_migrations (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  instance_id     uuid NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
  source_host_id  uuid NOT NULL REFERENCES hosts(id),
  target_host_id  uuid NOT NULL REFERENCES hosts(id),
  evacuation_id   uuid REFERENCES host_evacuations(id) ON DELETE SET NULL,
  state           text NOT NULL DEFAULT 'preparing'
                  CHECK (state IN ('preparing', 'migrating', 'succeeded', 'failed', 'cancelled')),
  -- The source aborts the transfer after this long (and reports failed); the job gives up on a
  -- target that has not prepared within it.
  timeout_seconds integer NOT NULL DEFAULT 300 CHECK (timeout_seconds > 0),
  -- Where the target keeps the instance's files ({root_disk, seed_iso?, console_log}), from its
  -- `prepared` report: the source's order names them once the attempt is migrating.
  target_files    jsonb,
  -- The "migration" details each agent reported last for this attempt (state report contract).
  source_report   jsonb,
  target_report   jsonb,
  reason          text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  state_since     timestamptz NOT NULL DEFAULT now(),
  reported_at     timestamptz,
  finished_at     timestamptz,
  CHECK (source_host_id <> target_host_id)
);
-- One attempt at a time: two could send the same domain to two hosts.
CREATE UNIQUE INDEX instance_migrations_active ON instance_migrations (instance_id)
  WHERE state IN ('preparing', 'migrating');
CREATE INDEX instance_migrations_target_active ON instance_migrations (target_host_id)
  WHERE state IN ('preparing', 'migrating');
CREATE INDEX instance_migrations_instance ON instance_migrations (instance_id, created_at DESC);
CREATE INDEX instance_migrations_evacuation ON instance_migrations (evacuation_id);

-- Both hosts' documents carry the attempt's orders: every change of what they contain (a new
-- attempt, its state, the target's files) wakes the hub for both. The agents' reports, stored
-- on the row too, change no document and wake nobody (else each report would bring a document
-- and each document a report).
CREATE FUNCTION instance_migration_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r instance_migrations := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.state = NEW.state AND OLD.target_files IS NOT DISTINCT FROM NEW.target_files
     AND OLD.timeout_seconds = NEW.timeout_seconds THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify('desired_state', r.source_host_id::text);
  PERFORM pg_notify('desired_state', r.target_host_id::text);
  -- The placement models keep the target's room for an active attempt (engine_placement.cpp).
  IF TG_OP <> 'UPDATE' OR (OLD.state IN ('preparing', 'migrating')) <> (NEW.state IN ('preparing', 'migrating')) THEN
    INSERT INTO placement_changes (kind, id) VALUES ('instance', r.instance_id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER instance_migrations_changed AFTER INSERT OR UPDATE OR DELETE ON instance_migrations
  FOR EACH ROW EXECUTE FUNCTION instance_migration_changed();

-- Evacuation items that move live: phase preparing (the target prepares), then migrating.
ALTER TABLE host_evacuation_items DROP CONSTRAINT host_evacuation_items_phase_check;
ALTER TABLE host_evacuation_items ADD CONSTRAINT host_evacuation_items_phase_check
  CHECK (phase IN ('stopping', 'starting', 'preparing', 'migrating'));
ALTER TABLE host_evacuation_items DROP CONSTRAINT host_evacuation_items_method_check;
ALTER TABLE host_evacuation_items ADD CONSTRAINT host_evacuation_items_method_check
  CHECK (method IN ('cold', 'live'));
-- The attempt of a live move (the latest one: a failed attempt is followed by a cold move).
ALTER TABLE host_evacuation_items ADD COLUMN migration_id uuid REFERENCES instance_migrations(id) ON DELETE SET NULL;
