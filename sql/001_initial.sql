-- Harmony schema, version 1: identity, accounting and the desired/current state of every resource.
--
-- Every resource row carries its tenant, a desired `spec` (changed only through the API), the last
-- reported `status` (changed only by agents), `generation` (bumped on every spec change) and
-- `observed_generation` (reported by the agent that converged it), and created/updated/deleted
-- timestamps. Deleting sets `deleted_at`; the agent converges to absent, then the row is purged.
-- `seq` is a monotonic key for stable keyset pagination under concurrent inserts.

CREATE TABLE controller_epoch (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  epoch        bigint NOT NULL,
  leader_id    text NOT NULL,
  elected_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenants (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq         bigserial UNIQUE NOT NULL,
  name        text NOT NULL,
  description text NOT NULL DEFAULT '',
  enabled     boolean NOT NULL DEFAULT true,
  generation  bigint NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz
);
CREATE UNIQUE INDEX tenants_name_live ON tenants (lower(name)) WHERE deleted_at IS NULL;

CREATE TABLE users (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq               bigserial UNIQUE NOT NULL,
  username          text NOT NULL,
  display_name      text NOT NULL DEFAULT '',
  email             text NOT NULL DEFAULT '',
  password_hash     text NOT NULL,
  is_system_admin   boolean NOT NULL DEFAULT false,
  enabled           boolean NOT NULL DEFAULT true,
  -- The tenant that created the user (its admins manage it); NULL for system administrators.
  home_tenant_id    uuid REFERENCES tenants(id),
  failed_logins     integer NOT NULL DEFAULT 0,
  locked_until      timestamptz,
  generation        bigint NOT NULL DEFAULT 1,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  deleted_at        timestamptz
);
CREATE UNIQUE INDEX users_username_live ON users (lower(username)) WHERE deleted_at IS NULL;

CREATE TABLE role_assignments (
  tenant_id   uuid NOT NULL REFERENCES tenants(id),
  user_id     uuid NOT NULL REFERENCES users(id),
  role        text NOT NULL CHECK (role IN ('admin', 'member', 'reader')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX role_assignments_user ON role_assignments (user_id);

CREATE TABLE api_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq         bigserial UNIQUE NOT NULL,
  -- sha256 of the token: a stolen database does not yield usable tokens.
  token_hash  text NOT NULL UNIQUE,
  user_id     uuid NOT NULL REFERENCES users(id),
  tenant_id   uuid REFERENCES tenants(id),
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at  timestamptz,
  client_address text NOT NULL DEFAULT ''
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE audit_events (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  request_id  text NOT NULL,
  user_id     uuid,
  username    text NOT NULL DEFAULT '',
  tenant_id   uuid,
  action      text NOT NULL,
  target_type text NOT NULL DEFAULT '',
  target_id   text NOT NULL DEFAULT '',
  outcome     text NOT NULL,
  status_code integer NOT NULL,
  client_address text NOT NULL DEFAULT '',
  detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, id);

CREATE TABLE usage_records (
  id            bigserial PRIMARY KEY,
  tenant_id     uuid NOT NULL REFERENCES tenants(id),
  resource_type text NOT NULL CHECK (resource_type IN ('instance', 'volume')),
  resource_id   uuid NOT NULL,
  -- instance: flavor "vcpus-ram_mib"; volume: "gib"
  size_key      text NOT NULL,
  vcpus         integer NOT NULL DEFAULT 0,
  ram_mib       bigint NOT NULL DEFAULT 0,
  gib           bigint NOT NULL DEFAULT 0,
  started_at    timestamptz NOT NULL,
  ended_at      timestamptz
);
CREATE INDEX usage_records_tenant ON usage_records (tenant_id, started_at);
CREATE UNIQUE INDEX usage_records_open ON usage_records (resource_id) WHERE ended_at IS NULL;

CREATE TABLE quotas (
  tenant_id     uuid PRIMARY KEY REFERENCES tenants(id),
  instances     bigint NOT NULL DEFAULT 20,
  vcpus         bigint NOT NULL DEFAULT 40,
  ram_mib       bigint NOT NULL DEFAULT 81920,
  volume_gib    bigint NOT NULL DEFAULT 1000,
  networks      bigint NOT NULL DEFAULT 10,
  generation    bigint NOT NULL DEFAULT 1,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- What a tenant uses now; updated in the same transaction as every create and delete so that
-- the quota check and the usage change are one atomic step (a row lock serializes them).
CREATE TABLE quota_usage (
  tenant_id     uuid PRIMARY KEY REFERENCES tenants(id),
  instances     bigint NOT NULL DEFAULT 0,
  vcpus         bigint NOT NULL DEFAULT 0,
  ram_mib       bigint NOT NULL DEFAULT 0,
  volume_gib    bigint NOT NULL DEFAULT 0,
  networks      bigint NOT NULL DEFAULT 0
);

CREATE TABLE idempotency_keys (
  user_id       uuid NOT NULL,
  key           text NOT NULL,
  method        text NOT NULL,
  path          text NOT NULL,
  request_hash  text NOT NULL,
  status_code   integer,
  response_body text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
);

-- The common shape of every resource table.
CREATE TABLE hosts (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq                 bigserial UNIQUE NOT NULL,
  tenant_id           uuid REFERENCES tenants(id),  -- hosts belong to the cloud: NULL
  name                text NOT NULL,
  spec                jsonb NOT NULL DEFAULT '{}',
  status              jsonb NOT NULL DEFAULT '{}',
  generation          bigint NOT NULL DEFAULT 1,
  observed_generation bigint NOT NULL DEFAULT 0,
  -- pending (key seen, not accepted), enrolled, rejected
  enrollment          text NOT NULL DEFAULT 'enrolled' CHECK (enrollment IN ('pending', 'enrolled', 'rejected')),
  curve_public_key    text UNIQUE,
  -- online, suspect, fencing, fenced, recovering, down, maintenance
  state               text NOT NULL DEFAULT 'unknown',
  traits              text[] NOT NULL DEFAULT '{}',
  hardware            jsonb NOT NULL DEFAULT '{}',
  last_heartbeat_at   timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz
);
CREATE UNIQUE INDEX hosts_name_live ON hosts (name) WHERE deleted_at IS NULL;

CREATE TABLE affinity_groups (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq                 bigserial UNIQUE NOT NULL,
  tenant_id           uuid NOT NULL REFERENCES tenants(id),
  name                text NOT NULL,
  spec                jsonb NOT NULL DEFAULT '{}',
  status              jsonb NOT NULL DEFAULT '{}',
  generation          bigint NOT NULL DEFAULT 1,
  observed_generation bigint NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz
);
CREATE UNIQUE INDEX affinity_groups_name_live ON affinity_groups (tenant_id, name) WHERE deleted_at IS NULL;

CREATE TABLE networks (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq                 bigserial UNIQUE NOT NULL,
  tenant_id           uuid REFERENCES tenants(id),  -- NULL: a flat network of the cloud
  name                text NOT NULL,
  spec                jsonb NOT NULL DEFAULT '{}',
  status              jsonb NOT NULL DEFAULT '{}',
  generation          bigint NOT NULL DEFAULT 1,
  observed_generation bigint NOT NULL DEFAULT 0,
  -- Tenants other than the owner that may attach to this network.
  shared_with         uuid[] NOT NULL DEFAULT '{}',
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz
);
CREATE UNIQUE INDEX networks_name_live ON networks (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'), name) WHERE deleted_at IS NULL;

CREATE TABLE subnets (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq                 bigserial UNIQUE NOT NULL,
  tenant_id           uuid REFERENCES tenants(id),
  network_id          uuid NOT NULL REFERENCES networks(id),
  name                text NOT NULL,
  cidr                cidr NOT NULL,
  spec                jsonb NOT NULL DEFAULT '{}',
  status              jsonb NOT NULL DEFAULT '{}',
  generation          bigint NOT NULL DEFAULT 1,
  observed_generation bigint NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz
);
CREATE INDEX subnets_network ON subnets (network_id);

CREATE TABLE images (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq                 bigserial UNIQUE NOT NULL,
  tenant_id           uuid REFERENCES tenants(id),  -- NULL: public image of the cloud
  name                text NOT NULL,
  spec                jsonb NOT NULL DEFAULT '{}',
  status              jsonb NOT NULL DEFAULT '{}',
  generation          bigint NOT NULL DEFAULT 1,
  observed_generation bigint NOT NULL DEFAULT 0,
  -- pending (no file yet), uploading, active, error
  upload_state        text NOT NULL DEFAULT 'pending',
  disk_format         text,
  size_bytes          bigint,
  sha256              text,
  visibility          text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz
);

CREATE TABLE volumes (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq                 bigserial UNIQUE NOT NULL,
  tenant_id           uuid NOT NULL REFERENCES tenants(id),
  name                text NOT NULL,
  spec                jsonb NOT NULL DEFAULT '{}',
  status              jsonb NOT NULL DEFAULT '{}',
  generation          bigint NOT NULL DEFAULT 1,
  observed_generation bigint NOT NULL DEFAULT 0,
  host_id             uuid REFERENCES hosts(id),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz
);

CREATE TABLE instances (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq                 bigserial UNIQUE NOT NULL,
  tenant_id           uuid NOT NULL REFERENCES tenants(id),
  name                text NOT NULL,
  spec                jsonb NOT NULL DEFAULT '{}',
  status              jsonb NOT NULL DEFAULT '{}',
  generation          bigint NOT NULL DEFAULT 1,
  observed_generation bigint NOT NULL DEFAULT 0,
  -- Where the instance is placed; changed only by placement, host-outage recovery and migration.
  host_id             uuid REFERENCES hosts(id),
  affinity_group_id   uuid REFERENCES affinity_groups(id),
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz
);
CREATE INDEX instances_tenant ON instances (tenant_id, seq);
CREATE INDEX instances_host ON instances (host_id) WHERE deleted_at IS NULL;

CREATE TABLE volume_attachments (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq                 bigserial UNIQUE NOT NULL,
  tenant_id           uuid NOT NULL REFERENCES tenants(id),
  volume_id           uuid NOT NULL REFERENCES volumes(id),
  instance_id         uuid NOT NULL REFERENCES instances(id),
  spec                jsonb NOT NULL DEFAULT '{}',
  status              jsonb NOT NULL DEFAULT '{}',
  generation          bigint NOT NULL DEFAULT 1,
  observed_generation bigint NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz
);
CREATE UNIQUE INDEX volume_attachments_live ON volume_attachments (volume_id, instance_id) WHERE deleted_at IS NULL;

CREATE TABLE instance_nics (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq                 bigserial UNIQUE NOT NULL,
  tenant_id           uuid NOT NULL REFERENCES tenants(id),
  instance_id         uuid NOT NULL REFERENCES instances(id),
  network_id          uuid NOT NULL REFERENCES networks(id),
  mac_address         macaddr NOT NULL UNIQUE,
  spec                jsonb NOT NULL DEFAULT '{}',
  status              jsonb NOT NULL DEFAULT '{}',
  generation          bigint NOT NULL DEFAULT 1,
  observed_generation bigint NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  deleted_at          timestamptz
);
CREATE INDEX instance_nics_instance ON instance_nics (instance_id);

CREATE TABLE ip_allocations (
  subnet_id   uuid NOT NULL REFERENCES subnets(id),
  address     inet NOT NULL,
  nic_id      uuid REFERENCES instance_nics(id),
  tenant_id   uuid REFERENCES tenants(id),
  created_at  timestamptz NOT NULL DEFAULT now(),
  -- Two NICs can never get the same address in a subnet, whatever the concurrency.
  PRIMARY KEY (subnet_id, address)
);

-- Events reported by agents and state changes, for the API's event stream and history.
CREATE TABLE events (
  id            bigserial PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT now(),
  tenant_id     uuid,
  resource_type text NOT NULL,
  resource_id   uuid,
  host_id       uuid,
  kind          text NOT NULL,
  detail        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_resource ON events (resource_id, id);

-- Timestamps in the API are RFC 3339 in UTC with milliseconds.
CREATE FUNCTION api_time(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;
