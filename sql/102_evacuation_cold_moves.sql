-- spec.evacuation_cold_moves (default true): false forbids cold moves in the host's evacuations.
-- A cold move starts the instance on the target from its image, so whatever the guest wrote to its
-- local root disk stays behind; an operator who cannot lose that says false, and an instance that
-- cannot move live then stays on its host (item unplaced, never stopped). Read when maintenance
-- begins, like the concurrency: changing the spec later does not change a running job.
ALTER TABLE host_evacuations ADD COLUMN cold_moves boolean NOT NULL DEFAULT true;

CREATE OR REPLACE FUNCTION host_maintenance_evacuation() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  started uuid;
  was boolean := coalesce((OLD.spec->>'maintenance')::boolean, false);
  now_on boolean := coalesce((NEW.spec->>'maintenance')::boolean, false) AND NEW.deleted_at IS NULL;
BEGIN
  IF now_on AND NOT was THEN
    INSERT INTO host_evacuations (host_id, concurrency, cold_moves)
      VALUES (NEW.id, coalesce((NEW.spec->>'evacuation_concurrency')::integer, 2),
              coalesce((NEW.spec->>'evacuation_cold_moves')::boolean, true))
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
