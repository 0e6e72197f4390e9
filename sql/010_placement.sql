-- Placement engine: the committed allocations of every host (the double-booking guard) and a
-- change log that keeps each controller's in-memory model in step with the database.

-- A host's effective capacity, the same arithmetic as the engine's effective_capacity():
-- hardware times the allocation ratio (vCPUs 4, RAM 1 by default) less the operator's reserve.
CREATE FUNCTION host_capacity_vcpus(hardware jsonb, spec jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT greatest(floor(coalesce((hardware->'cpu'->>'threads')::numeric, 0)
                        * coalesce((spec->>'cpu_allocation_ratio')::numeric, 4) + 1e-9)
                  - coalesce((spec->>'reserved_vcpus')::numeric, 0), 0)::bigint
$$;
CREATE FUNCTION host_capacity_ram_mib(hardware jsonb, spec jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
  SELECT greatest(floor(coalesce((hardware->>'memory_mib')::numeric, 0)
                        * coalesce((spec->>'ram_allocation_ratio')::numeric, 1) + 1e-9)
                  - coalesce((spec->>'reserved_ram_mib')::numeric, 0), 0)::bigint
$$;

-- What the instances placed on each host hold (deleted ones too, until they are purged: they
-- run until their agent reports them absent). Kept by the trigger below, whatever code path
-- changes an instance, and checked there: a change that grows a host's allocation past its
-- capacity fails with SQLSTATE HA001, so two controllers or two concurrent requests can never
-- double-book a host (the UPSERT takes the row lock and sees every committed allocation).
CREATE TABLE host_allocations (
  host_id   uuid PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
  vcpus     bigint NOT NULL DEFAULT 0,
  ram_mib   bigint NOT NULL DEFAULT 0,
  disk_gib  bigint NOT NULL DEFAULT 0,
  instances bigint NOT NULL DEFAULT 0
);
INSERT INTO host_allocations (host_id, vcpus, ram_mib, disk_gib, instances)
  SELECT host_id, sum(coalesce((spec->>'vcpus')::bigint, 0)), sum(coalesce((spec->>'ram_mib')::bigint, 0)),
         sum(coalesce((spec->>'disk_gib')::bigint, 0)), count(*)
  FROM instances WHERE host_id IS NOT NULL GROUP BY host_id;

-- Rows the controllers' placement models re-read: ('instance'|'host'|'group', id).
CREATE TABLE placement_changes (
  seq  bigserial PRIMARY KEY,
  kind text NOT NULL,
  id   uuid NOT NULL,
  at   timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION placement_instance_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_v bigint := 0; old_r bigint := 0; old_d bigint := 0;
  new_v bigint := 0; new_r bigint := 0; new_d bigint := 0;
  used_v bigint; used_r bigint;
  cap_v bigint; cap_r bigint;
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.host_id IS NOT NULL THEN
    old_v := coalesce((OLD.spec->>'vcpus')::bigint, 0);
    old_r := coalesce((OLD.spec->>'ram_mib')::bigint, 0);
    old_d := coalesce((OLD.spec->>'disk_gib')::bigint, 0);
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.host_id IS NOT NULL THEN
    new_v := coalesce((NEW.spec->>'vcpus')::bigint, 0);
    new_r := coalesce((NEW.spec->>'ram_mib')::bigint, 0);
    new_d := coalesce((NEW.spec->>'disk_gib')::bigint, 0);
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.host_id IS NOT DISTINCT FROM NEW.host_id AND old_v = new_v AND old_r = new_r
     AND old_d = new_d THEN
    IF OLD.affinity_group_id IS DISTINCT FROM NEW.affinity_group_id
       OR OLD.spec->'required_traits' IS DISTINCT FROM NEW.spec->'required_traits'
       OR OLD.spec->'forbidden_traits' IS DISTINCT FROM NEW.spec->'forbidden_traits' THEN
      INSERT INTO placement_changes (kind, id) VALUES ('instance', NEW.id);
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' AND OLD.host_id IS NOT NULL THEN
    UPDATE host_allocations SET vcpus = vcpus - old_v, ram_mib = ram_mib - old_r, disk_gib = disk_gib - old_d,
      instances = instances - 1 WHERE host_id = OLD.host_id;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.host_id IS NOT NULL THEN
    INSERT INTO host_allocations AS a (host_id, vcpus, ram_mib, disk_gib, instances)
      VALUES (NEW.host_id, new_v, new_r, new_d, 1)
      ON CONFLICT (host_id) DO UPDATE SET vcpus = a.vcpus + excluded.vcpus, ram_mib = a.ram_mib + excluded.ram_mib,
        disk_gib = a.disk_gib + excluded.disk_gib, instances = a.instances + 1
      RETURNING a.vcpus, a.ram_mib INTO used_v, used_r;
    -- Only growth is checked: an operator lowering a ratio must not block deletes or moves away.
    IF (TG_OP = 'INSERT' OR OLD.host_id IS DISTINCT FROM NEW.host_id OR new_v > old_v OR new_r > old_r) THEN
      SELECT host_capacity_vcpus(h.hardware, h.spec), host_capacity_ram_mib(h.hardware, h.spec)
        INTO cap_v, cap_r FROM hosts h WHERE h.id = NEW.host_id;
      IF used_v > cap_v OR used_r > cap_r THEN
        RAISE EXCEPTION 'host % has no room for instance % (vcpus %/%, ram_mib %/%)',
          NEW.host_id, NEW.id, used_v, cap_v, used_r, cap_r USING ERRCODE = 'HA001';
      END IF;
    END IF;
  END IF;
  INSERT INTO placement_changes (kind, id) VALUES ('instance', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
  RETURN NULL;
END $$;

CREATE TRIGGER instances_placement AFTER INSERT OR UPDATE OR DELETE ON instances
  FOR EACH ROW EXECUTE FUNCTION placement_instance_changed();

-- Heartbeats rewrite hosts every few seconds: only what placement reads is logged (the measured
-- load is re-read periodically instead).
CREATE FUNCTION placement_host_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.state IS NOT DISTINCT FROM NEW.state AND OLD.spec IS NOT DISTINCT FROM NEW.spec
     AND OLD.traits IS NOT DISTINCT FROM NEW.traits AND OLD.hardware IS NOT DISTINCT FROM NEW.hardware
     AND OLD.enrollment IS NOT DISTINCT FROM NEW.enrollment AND OLD.deleted_at IS NOT DISTINCT FROM NEW.deleted_at
     AND OLD.name IS NOT DISTINCT FROM NEW.name THEN
    RETURN NULL;
  END IF;
  INSERT INTO placement_changes (kind, id) VALUES ('host', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
  RETURN NULL;
END $$;

CREATE TRIGGER hosts_placement AFTER INSERT OR UPDATE OR DELETE ON hosts
  FOR EACH ROW EXECUTE FUNCTION placement_host_changed();

CREATE FUNCTION placement_group_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO placement_changes (kind, id) VALUES ('group', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
  RETURN NULL;
END $$;

CREATE TRIGGER affinity_groups_placement AFTER INSERT OR UPDATE OR DELETE ON affinity_groups
  FOR EACH ROW EXECUTE FUNCTION placement_group_changed();
