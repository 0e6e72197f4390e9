-- The wake-up of 006 also fired for every status write of an agent's state report (the OLD
-- branch had no condition), so each report made the controller resend the host's document,
-- which the agent answered with another report: a loop. Only changes of the desired state wake
-- it now: a move between hosts, a spec change (generation), a delete, and the purge.
CREATE OR REPLACE FUNCTION notify_desired_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.host_id IS NOT NULL
     AND (TG_OP = 'DELETE' OR NEW.host_id IS DISTINCT FROM OLD.host_id) THEN
    PERFORM pg_notify('desired_state', OLD.host_id::text);
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.host_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.host_id IS DISTINCT FROM OLD.host_id OR NEW.generation <> OLD.generation
          OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at) THEN
    PERFORM pg_notify('desired_state', NEW.host_id::text);
  END IF;
  RETURN NULL;
END $$;
