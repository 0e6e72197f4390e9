-- Luna, the provisioning agent: which physical hosts it serves (network boot) and how each host is
-- fenced, and Sparkle's fence requests with their results.

-- A Luna instance is known by its CURVE key, like a host's agent (the agent hub admits both).
CREATE TABLE luna_services (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name             text NOT NULL UNIQUE,
  curve_public_key text NOT NULL UNIQUE,
  enrollment       text NOT NULL DEFAULT 'enrolled' CHECK (enrollment IN ('enrolled', 'rejected')),
  -- sha256 of the last document built (without its revision) and its revision (from the same
  -- sequence as the hosts' desired states, so revisions only grow).
  desired_hash     text NOT NULL DEFAULT '',
  desired_revision bigint NOT NULL DEFAULT 0,
  last_seen_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);

-- How a host boots its node image.
CREATE TABLE boot_profiles (
  name    text PRIMARY KEY CHECK (name ~ '^[a-z0-9_-]{1,48}$'),
  kernel  text NOT NULL DEFAULT 'vmlinuz',
  initrd  text NOT NULL DEFAULT 'initrd.img',
  cmdline text NOT NULL DEFAULT ''
);

-- A physical host served by a Luna: its boot network identity and node image.
CREATE TABLE host_provisioning (
  host_id       uuid PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
  luna_id       uuid NOT NULL REFERENCES luna_services(id),
  macs          text[] NOT NULL CHECK (cardinality(macs) > 0),
  ip            inet NOT NULL,
  boot_profile  text NOT NULL REFERENCES boot_profiles(name),
  image_version text,
  bmc_address   text
);
CREATE INDEX host_provisioning_luna ON host_provisioning (luna_id);

-- Fencing levels of a host, tried in order. `secrets` (BMC passwords) are read only to build
-- Luna's desired state: no API response and no log line ever carries them.
CREATE TABLE host_fence_methods (
  host_id         uuid NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  level           integer NOT NULL CHECK (level >= 0),
  agent           text NOT NULL CHECK (agent ~ '^fence_[a-z0-9_]+$'),
  parameters      jsonb NOT NULL DEFAULT '{}',
  secrets         jsonb NOT NULL DEFAULT '{}',
  timeout_seconds integer NOT NULL DEFAULT 30 CHECK (timeout_seconds BETWEEN 1 AND 3600),
  PRIMARY KEY (host_id, level)
);

-- pending (not yet sent) -> sent -> succeeded | failed. Unfinished requests are sent again with
-- every desired state; Luna runs each request id once.
CREATE TABLE fence_requests (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  host_id      uuid NOT NULL REFERENCES hosts(id),
  luna_id      uuid NOT NULL REFERENCES luna_services(id),
  action       text NOT NULL CHECK (action IN ('off', 'on', 'reboot', 'status')),
  state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'succeeded', 'failed')),
  result       jsonb,
  requested_at timestamptz NOT NULL DEFAULT now(),
  sent_at      timestamptz,
  finished_at  timestamptz
);
CREATE INDEX fence_requests_open ON fence_requests (luna_id) WHERE state IN ('pending', 'sent');

-- Wake the agent hub for the Luna concerned (the same channel as hosts' desired states).
CREATE FUNCTION notify_luna() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  luna uuid;
BEGIN
  IF TG_TABLE_NAME = 'fence_requests' OR TG_TABLE_NAME = 'host_provisioning' THEN
    luna := CASE WHEN TG_OP = 'DELETE' THEN OLD.luna_id ELSE NEW.luna_id END;
  ELSE
    SELECT luna_id INTO luna FROM host_provisioning
     WHERE host_id = CASE WHEN TG_OP = 'DELETE' THEN OLD.host_id ELSE NEW.host_id END;
  END IF;
  IF luna IS NOT NULL THEN
    PERFORM pg_notify('desired_state', luna::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER fence_requests_notify AFTER INSERT ON fence_requests
  FOR EACH ROW EXECUTE FUNCTION notify_luna();
CREATE TRIGGER host_provisioning_notify AFTER INSERT OR UPDATE OR DELETE ON host_provisioning
  FOR EACH ROW EXECUTE FUNCTION notify_luna();
CREATE TRIGGER host_fence_methods_notify AFTER INSERT OR UPDATE OR DELETE ON host_fence_methods
  FOR EACH ROW EXECUTE FUNCTION notify_luna();
