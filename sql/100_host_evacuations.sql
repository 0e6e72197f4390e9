-- Planned evacuation: a host put into maintenance (spec.maintenance true) gets an evacuation job,
-- which the leading controller executes (src/sparkle/placement/evacuation_job.cpp): each instance
-- is moved to another host. Taking the host out of maintenance cancels the job; what moved stays.
-- The job is made and cancelled by the trigger below, whichever path changes the spec.
CREATE TABLE host_evacuations (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  host_id     uuid NOT NULL REFERENCES hosts(id),
  -- running: moving instances; done: nothing left to do (some may be unplaced or failed);
  -- cancelled: maintenance ended first.
  state       text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'cancelled')),
  -- Instances moved at the same time, at most.
  concurrency integer NOT NULL DEFAULT 2 CHECK (concurrency BETWEEN 1 AND 64),
  planned     boolean NOT NULL DEFAULT false,  -- its items are listed
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE UNIQUE INDEX host_evacuations_running ON host_evacuations (host_id) WHERE state = 'running';
CREATE INDEX host_evacuations_host ON host_evacuations (host_id, created_at DESC);

-- One per instance of the host when the job was planned.
--   pending -> moving (phase stopping: the source stops it; phase starting: placed on the target,
--   which starts it) -> moved; or unplaced (no host takes it, or it cannot leave: it stays where it
--   is, running as before), failed (it did not get there: see reason), cancelled (maintenance ended
--   before it left).
CREATE TABLE host_evacuation_items (
  evacuation_id    uuid NOT NULL REFERENCES host_evacuations(id) ON DELETE CASCADE,
  instance_id      uuid NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
  state            text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'moving', 'moved', 'unplaced', 'failed', 'cancelled')),
  phase            text CHECK (phase IN ('stopping', 'starting')),
  method           text CHECK (method IN ('cold')),
  -- What moves together: the instance itself, or its hard affinity group.
  unit             text NOT NULL,
  target_host_id   uuid REFERENCES hosts(id),
  was_running      boolean,
  stop_generation  bigint,
  reason           text,
  phase_started_at timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (evacuation_id, instance_id)
);
CREATE INDEX host_evacuation_items_instance ON host_evacuation_items (instance_id);

CREATE FUNCTION host_maintenance_evacuation() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  started uuid;
  was boolean := coalesce((OLD.spec->>'maintenance')::boolean, false);
  now_on boolean := coalesce((NEW.spec->>'maintenance')::boolean, false) AND NEW.deleted_at IS NULL;
BEGIN
  IF now_on AND NOT was THEN
    INSERT INTO host_evacuations (host_id, concurrency)
      VALUES (NEW.id, coalesce((NEW.spec->>'evacuation_concurrency')::integer, 2))
      ON CONFLICT (host_id) WHERE state = 'running' DO NOTHING RETURNING id INTO started;
    IF started IS NOT NULL THEN
      INSERT INTO events (resource_type, resource_id, host_id, kind, detail)
        VALUES ('host', NEW.id, NEW.id, 'evacuation_started', jsonb_build_object('evacuation_id', started));
    END IF;
  ELSIF was AND NOT now_on THEN
    WITH cancelled AS (
      UPDATE host_evacuations SET state = 'cancelled', updated_at = now(), finished_at = now()
       WHERE host_id = NEW.id AND state = 'running' RETURNING id)
    INSERT INTO events (resource_type, resource_id, host_id, kind, detail)
      SELECT 'host', NEW.id, NEW.id, 'evacuation_cancelled', jsonb_build_object('evacuation_id', id)
        FROM cancelled;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER hosts_maintenance_evacuation AFTER UPDATE OF spec, deleted_at ON hosts
  FOR EACH ROW WHEN (OLD.spec->'maintenance' IS DISTINCT FROM NEW.spec->'maintenance'
                     OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
  EXECUTE FUNCTION host_maintenance_evacuation();
