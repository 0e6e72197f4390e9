-- Creates of instances run their triggers once per INSERT statement instead of once per row.
-- A batch of 1,000 placements (the placement benchmark, a controller placing waiting instances)
-- used to run 3,000 PL/pgSQL calls, 1,000 host_allocations upserts, 2,000 single-row inserts
-- into placement_changes and events (each firing the epoch fence of its table) and 2,000
-- pg_notify calls; it now runs one upsert per host touched, one insert per log table and one
-- notification per host and per statement. UPDATE and DELETE keep their per-row triggers
-- (sql/010, sql/020, sql/022): their logic depends on the old and the new row.
--
-- The allocation guard is unchanged in what it guarantees: the upsert takes the row lock of
-- every host the statement places on (in host order, so that two batches sharing hosts wait
-- for each other instead of deadlocking), adds the statement's total per host to what is
-- committed, and refuses the whole statement with SQLSTATE HA001 when a host ends up past its
-- capacity. An insert only grows allocations, so checking the total once equals checking after
-- every row.

DROP TRIGGER instances_placement ON instances;
CREATE TRIGGER instances_placement AFTER UPDATE OR DELETE ON instances
  FOR EACH ROW EXECUTE FUNCTION placement_instance_changed();

CREATE FUNCTION placement_instances_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  over record;
BEGIN
  WITH added AS (
    SELECT host_id, sum(coalesce((spec->>'vcpus')::bigint, 0)) AS vcpus,
           sum(coalesce((spec->>'ram_mib')::bigint, 0)) AS ram_mib,
           sum(coalesce((spec->>'disk_gib')::bigint, 0)) AS disk_gib, count(*) AS instances
    FROM inserted WHERE host_id IS NOT NULL GROUP BY host_id
  ), upserted AS (
    INSERT INTO host_allocations AS a (host_id, vcpus, ram_mib, disk_gib, instances)
      SELECT host_id, vcpus, ram_mib, disk_gib, instances FROM added ORDER BY host_id
      ON CONFLICT (host_id) DO UPDATE SET vcpus = a.vcpus + excluded.vcpus, ram_mib = a.ram_mib + excluded.ram_mib,
        disk_gib = a.disk_gib + excluded.disk_gib, instances = a.instances + excluded.instances
      RETURNING a.host_id, a.vcpus, a.ram_mib
  )
  SELECT u.host_id, u.vcpus, u.ram_mib, c.vcpus AS cap_v, c.ram_mib AS cap_r INTO over
    FROM upserted u
    JOIN hosts h ON h.id = u.host_id
    CROSS JOIN LATERAL (SELECT host_capacity_vcpus(h.hardware, h.spec) AS vcpus,
                               host_capacity_ram_mib(h.hardware, h.spec) AS ram_mib) c
    WHERE u.vcpus > c.vcpus OR u.ram_mib > c.ram_mib
    ORDER BY u.host_id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'host % has no room for instance % (vcpus %/%, ram_mib %/%)', over.host_id,
      (SELECT min(id::text) FROM inserted WHERE host_id = over.host_id), over.vcpus, over.cap_v, over.ram_mib,
      over.cap_r USING ERRCODE = 'HA001';
  END IF;
  INSERT INTO placement_changes (kind, id) SELECT 'instance', id FROM inserted ORDER BY seq;
  RETURN NULL;
END $$;

CREATE TRIGGER instances_placement_inserted AFTER INSERT ON instances
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION placement_instances_inserted();

-- The agents' wake-up: one notification per host that received instances.
DROP TRIGGER instances_notify_desired_state ON instances;
CREATE TRIGGER instances_notify_desired_state AFTER UPDATE OR DELETE ON instances
  FOR EACH ROW EXECUTE FUNCTION notify_desired_state();

CREATE FUNCTION notify_desired_state_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('desired_state', host_id::text)
    FROM (SELECT DISTINCT host_id FROM inserted WHERE host_id IS NOT NULL) hosts;
  RETURN NULL;
END $$;

CREATE TRIGGER instances_notify_desired_state_inserted AFTER INSERT ON instances
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION notify_desired_state_inserted();

-- The event stream's "created" events, as record_state_change() (sql/022) writes them.
DROP TRIGGER instances_record_state_change ON instances;
CREATE TRIGGER instances_record_state_change AFTER UPDATE OR DELETE ON instances
  FOR EACH ROW EXECUTE FUNCTION record_state_change();

CREATE FUNCTION record_instances_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (tenant_id, resource_type, resource_id, host_id, kind, detail)
    SELECT tenant_id, 'instance', id, host_id, 'created',
           jsonb_strip_nulls(jsonb_build_object(
             'name', name,
             'state', status->>'state',
             'pending_action', pending_action,
             'generation', generation,
             'observed_generation', observed_generation))
    FROM inserted ORDER BY seq;
  RETURN NULL;
END $$;

CREATE TRIGGER instances_record_state_created AFTER INSERT ON instances
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION record_instances_created();

-- The event broadcasters read every row after the last one they saw (the payload is only a
-- hint), so one wake-up per statement is enough.
DROP TRIGGER events_notify ON events;
CREATE FUNCTION notify_events_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('events', max(id)::text) FROM inserted HAVING count(*) > 0;
  RETURN NULL;
END $$;
CREATE TRIGGER events_notify AFTER INSERT ON events
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION notify_events_inserted();
