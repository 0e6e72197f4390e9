-- bench/agents' tenant: "bench" with a member "bench" (sharing the admin's password hash, so no
-- password hashing is needed), a quota far above the run, and an image to boot from.
BEGIN;
INSERT INTO tenants (name, description) VALUES ('bench', 'created by bench/agents');
INSERT INTO quotas (tenant_id, instances, vcpus, ram_mib, volume_gib, networks)
SELECT id, 100000000, 1000000000, 1000000000000, 1000000000, 1000 FROM tenants WHERE name = 'bench';
INSERT INTO users (username, display_name, email, password_hash, home_tenant_id)
SELECT 'bench', 'Bench User', 'bench@example.org', u.password_hash, t.id
FROM users u, tenants t WHERE u.username = 'admin' AND t.name = 'bench';
INSERT INTO role_assignments (tenant_id, user_id, role)
SELECT t.id, u.id, 'member' FROM tenants t, users u WHERE t.name = 'bench' AND u.username = 'bench';
INSERT INTO images (tenant_id, name, spec, status, upload_state, disk_format, size_bytes, sha256, visibility)
SELECT id, 'debian-12', jsonb_build_object('os', 'debian', 'os_version', '12', 'min_disk_gib', 4),
       jsonb_build_object('state', 'active'), 'active', 'qcow2', 524288000, repeat('ab', 32), 'private'
FROM tenants WHERE name = 'bench';
COMMIT;
