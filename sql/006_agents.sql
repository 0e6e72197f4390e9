-- Agents: what each host was last sent, and a wake-up for the controller when a host's desired
-- state changes.

-- Revisions come from one sequence, so they only grow, across controller restarts and failovers.
CREATE SEQUENCE desired_revision;
ALTER TABLE hosts ADD COLUMN desired_revision bigint NOT NULL DEFAULT 0;
-- sha256 of the last desired document built for the host (without its revision): a new revision
-- is taken only when the content changed.
ALTER TABLE hosts ADD COLUMN desired_hash text NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN applied_revision bigint NOT NULL DEFAULT 0;

-- Every change of an instance wakes the controller's agent hub for the host(s) concerned
-- (LISTEN desired_state). It works whatever code path made the change, and across controllers.
CREATE FUNCTION notify_desired_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.host_id IS NOT NULL THEN
    PERFORM pg_notify('desired_state', OLD.host_id::text);
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.host_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.host_id IS DISTINCT FROM OLD.host_id OR NEW.generation <> OLD.generation
          OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at) THEN
    PERFORM pg_notify('desired_state', NEW.host_id::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER instances_notify_desired_state AFTER INSERT OR UPDATE OR DELETE ON instances
  FOR EACH ROW EXECUTE FUNCTION notify_desired_state();

-- Placement sums what every instance on a host holds, deleted ones included until they are
-- purged (they still run until their agent reports them absent).
CREATE INDEX instances_host_all ON instances (host_id);
