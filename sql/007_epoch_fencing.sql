-- Epoch fencing in the database itself: a Sparkle sets `harmony.epoch` on each of its
-- connections to the epoch it leads with (or 0 while it does not lead). Every write statement on
-- a fenced table first takes a share lock on the epoch row and checks it still holds that epoch.
-- A new leader's advance_epoch() updates the row, so it waits for the old leader's writes in
-- flight and every later write of the old leader fails with SQLSTATE HA001, even before the old
-- leader learns that it lost. Sessions that never set the variable (the `sparkle migrate` and
-- `create-admin` commands, an operator's psql) are not checked.
CREATE FUNCTION harmony_require_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  claimed bigint := nullif(current_setting('harmony.epoch', true), '')::bigint;
BEGIN
  IF claimed IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM controller_epoch WHERE singleton AND epoch = claimed FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'controller epoch % is no longer current: this controller does not lead', claimed
      USING ERRCODE = 'HA100';
  END IF;
  RETURN NULL;
END
$$;

-- Attaches the check to every table of the schema that lacks it, except the epoch row itself and
-- the migration record. The migrator calls it after each run, so tables added by later
-- migrations are fenced too.
CREATE FUNCTION harmony_fence_tables() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  t record;
  added integer := 0;
BEGIN
  FOR t IN
    SELECT c.oid, c.relname FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
      AND c.relname NOT IN ('controller_epoch', 'schema_migrations')
      AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = 'harmony_epoch_fence')
  LOOP
    EXECUTE format('CREATE TRIGGER harmony_epoch_fence BEFORE INSERT OR UPDATE OR DELETE ON %I'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION harmony_require_epoch()', t.relname);
    added := added + 1;
  END LOOP;
  RETURN added;
END
$$;
