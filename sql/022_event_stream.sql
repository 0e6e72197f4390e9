-- GET /api/v1/events streams the events table: what agents report (domain started, crashed...)
-- and the state changes below, which triggers record whatever code path made them. Every new
-- row wakes the controllers' event broadcasters (LISTEN events); the row id is the stream's
-- event id, so a client resumes with Last-Event-ID.
CREATE INDEX events_tenant ON events (tenant_id, id);

CREATE FUNCTION notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('events', NEW.id::text);
  RETURN NULL;
END $$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION notify_event();

-- Instances and volumes: created, deleted, purged (the agent converged the delete), and every
-- change of the reported state or of what waits for the host. An agent rewrites `status` on
-- every report; only a different state makes an event, so the table grows with real changes.
CREATE FUNCTION record_state_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  kind text;
  pending text;
  old_pending text;
BEGIN
  IF TG_TABLE_NAME = 'instances' THEN
    IF TG_OP <> 'DELETE' THEN pending := NEW.pending_action; END IF;
    IF TG_OP <> 'INSERT' THEN old_pending := OLD.pending_action; END IF;
  END IF;
  IF TG_OP = 'INSERT' THEN
    kind := 'created';
  ELSIF TG_OP = 'DELETE' THEN
    kind := 'purged';
  ELSIF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
    kind := 'deleted';
  ELSIF NEW.status->>'state' IS DISTINCT FROM OLD.status->>'state'
        OR pending IS DISTINCT FROM old_pending
        OR NEW.host_id IS DISTINCT FROM OLD.host_id THEN
    kind := 'state_changed';
  ELSE
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    INSERT INTO events (tenant_id, resource_type, resource_id, host_id, kind, detail)
    VALUES (OLD.tenant_id, rtrim(TG_TABLE_NAME, 's'), OLD.id, OLD.host_id, kind, '{}');
  ELSE
    INSERT INTO events (tenant_id, resource_type, resource_id, host_id, kind, detail)
    VALUES (NEW.tenant_id, rtrim(TG_TABLE_NAME, 's'), NEW.id, NEW.host_id, kind,
            jsonb_strip_nulls(jsonb_build_object(
              'name', NEW.name,
              'state', NEW.status->>'state',
              'previous_state', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status->>'state' END,
              'pending_action', pending,
              'generation', NEW.generation,
              'observed_generation', NEW.observed_generation)));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER instances_record_state_change AFTER INSERT OR UPDATE OR DELETE ON instances
  FOR EACH ROW EXECUTE FUNCTION record_state_change();
CREATE TRIGGER volumes_record_state_change AFTER INSERT OR UPDATE OR DELETE ON volumes
  FOR EACH ROW EXECUTE FUNCTION record_state_change();

-- Hosts belong to the cloud (tenant_id NULL: system administrators see them): their state
-- (online, stale, ...) and enrollment.
CREATE FUNCTION record_host_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO events (resource_type, resource_id, host_id, kind, detail)
    VALUES ('host', NEW.id, NEW.id, 'created',
            jsonb_build_object('name', NEW.name, 'state', NEW.state, 'enrollment', NEW.enrollment));
  ELSIF NEW.state IS DISTINCT FROM OLD.state OR NEW.enrollment IS DISTINCT FROM OLD.enrollment
        OR (NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL) THEN
    INSERT INTO events (resource_type, resource_id, host_id, kind, detail)
    VALUES ('host', NEW.id, NEW.id,
            CASE WHEN NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN 'deleted' ELSE 'state_changed' END,
            jsonb_build_object('name', NEW.name, 'state', NEW.state, 'previous_state', OLD.state,
                               'enrollment', NEW.enrollment));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER hosts_record_change AFTER INSERT OR UPDATE ON hosts
  FOR EACH ROW EXECUTE FUNCTION record_host_change();
