-- bench/api's data set: one tenant "bench" with a member "bench" (who shares the admin's password
-- hash, so no password hashing is needed here), a large quota, hosts, a network, an uploaded image
-- and :instances instances with realistic spec and status documents.
-- Run with: psql -v ON_ERROR_STOP=1 -v instances=N -f bench/api_seed.sql
BEGIN;

INSERT INTO tenants (name, description) VALUES ('bench', 'created by bench/api');

INSERT INTO quotas (tenant_id, instances, vcpus, ram_mib, volume_gib, networks)
SELECT id, 100000000, 1000000000, 1000000000000, 1000000000, 1000 FROM tenants WHERE name = 'bench';

INSERT INTO users (username, display_name, email, password_hash, home_tenant_id)
SELECT 'bench', 'Bench User', 'bench@example.org', u.password_hash, t.id
FROM users u, tenants t WHERE u.username = 'admin' AND t.name = 'bench';

INSERT INTO role_assignments (tenant_id, user_id, role)
SELECT t.id, u.id, 'member' FROM tenants t, users u WHERE t.name = 'bench' AND u.username = 'bench';

-- One online host per 100 instances (at least one), as an agent's hello describes it: 128 threads
-- (512 vCPUs at the default allocation ratio of 4) and 1 TiB of RAM, so each has room left.
INSERT INTO hosts (name, spec, status, state, hardware, last_heartbeat_at)
SELECT format('node-%s', lpad(h::text, 4, '0')),
       '{}'::jsonb,
       jsonb_build_object('agent_version', '0.1.0', 'host_name', format('node-%s.example.net', h),
                          'load', jsonb_build_object('cpu_percent', 35, 'ram_used_mib', 700000)),
       'online',
       jsonb_build_object(
         'cpu', jsonb_build_object('model', 'AMD EPYC 7543 32-Core Processor', 'sockets', 2, 'cores', 64,
                                   'threads', 128, 'flags', jsonb_build_array('svm', 'avx2', 'aes')),
         'memory_mib', 1048576,
         'domain_types', jsonb_build_array('kvm', 'qemu'),
         'traits', jsonb_build_array('ssd')),
       now()
FROM generate_series(1, greatest(1, :instances / 100)) AS h;

INSERT INTO networks (tenant_id, name, spec, status)
SELECT id, 'bench-net', jsonb_build_object('mtu', 1500, 'vlan', 120), jsonb_build_object('state', 'ready')
FROM tenants WHERE name = 'bench';

INSERT INTO subnets (tenant_id, network_id, name, cidr, spec, status)
SELECT n.tenant_id, n.id, 'bench-subnet', '10.20.0.0/16',
       jsonb_build_object('gateway', '10.20.0.1', 'dns', jsonb_build_array('10.20.0.2')), jsonb_build_object('state', 'ready')
FROM networks n WHERE n.name = 'bench-net';

INSERT INTO images (tenant_id, name, spec, status, upload_state, disk_format, size_bytes, sha256, visibility)
SELECT id, 'debian-12', jsonb_build_object('os', 'debian', 'os_version', '12', 'min_disk_gib', 4),
       jsonb_build_object('state', 'active'), 'active', 'qcow2', 524288000, repeat('ab', 32), 'private'
FROM tenants WHERE name = 'bench';

-- The instances: sizes from a small flavor set (each host gets a mix of them: the flavor and the
-- host do not follow the same cycle), one NIC each, placed over the hosts, most of them converged
-- and running.
WITH refs AS (
  SELECT t.id AS tenant_id, i.id AS image_id, n.id AS network_id,
         (SELECT array_agg(id ORDER BY seq) FROM hosts) AS hosts
  FROM tenants t
  JOIN images i ON i.tenant_id = t.id AND i.name = 'debian-12'
  JOIN networks n ON n.tenant_id = t.id AND n.name = 'bench-net'
  WHERE t.name = 'bench'
)
INSERT INTO instances (tenant_id, name, spec, status, generation, observed_generation, host_id, created_at,
                       updated_at)
SELECT r.tenant_id,
       format('vm-%s', lpad(g::text, 6, '0')),
       jsonb_build_object(
         'vcpus', (ARRAY[1, 2, 4, 8])[1 + (g / 7) % 4],
         'ram_mib', (ARRAY[1024, 4096, 8192, 16384])[1 + (g / 7) % 4],
         'disk_gib', (ARRAY[10, 40, 80, 160])[1 + (g / 7) % 4],
         'image_id', r.image_id,
         'networks', jsonb_build_array(jsonb_build_object('network_id', r.network_id)),
         'volumes', '[]'::jsonb,
         'power_state', CASE WHEN g % 10 = 0 THEN 'stopped' ELSE 'running' END,
         'required_traits', jsonb_build_array('ssd'),
         'forbidden_traits', '[]'::jsonb,
         'user_data', '#cloud-config' || chr(10) || 'hostname: ' || format('vm-%s', g) || chr(10)),
       jsonb_build_object(
         'state', CASE WHEN g % 10 = 0 THEN 'stopped' ELSE 'running' END,
         'host_id', r.hosts[1 + g % cardinality(r.hosts)],
         'nics', jsonb_build_array(jsonb_build_object(
           'network_id', r.network_id,
           'mac', format('52:54:00:%s:%s:%s', lpad(to_hex((g >> 16) & 255), 2, '0'),
                         lpad(to_hex((g >> 8) & 255), 2, '0'), lpad(to_hex(g & 255), 2, '0')),
           'ip', format('10.20.%s.%s', (g / 250) % 256, 2 + g % 250))),
         'reported_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
       1 + g % 3, 1 + g % 3,
       r.hosts[1 + g % cardinality(r.hosts)],
       now() - make_interval(secs => (:instances - g) * 30),
       now() - make_interval(secs => (:instances - g) * 10)
FROM refs r, generate_series(1, :instances) AS g;

INSERT INTO quota_usage (tenant_id, instances, vcpus, ram_mib, volume_gib, networks)
SELECT tenant_id, count(*), sum((spec->>'vcpus')::bigint), sum((spec->>'ram_mib')::bigint), 0, 1
FROM instances GROUP BY tenant_id;

COMMIT;
ANALYZE;
