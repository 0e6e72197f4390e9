-- What Luna saw of each host it serves: the last DHCP lease dnsmasq gave it and the last file it
-- fetched over TFTP (its last boot request). One row per host, replaced by each report, so it
-- stays as small as the hosts table; the history goes to the events table (kinds dhcp_lease_added,
-- dhcp_lease_released and boot_file_sent), kept events.retention_days like every event.
CREATE TABLE host_boot_activity (
  host_id          uuid PRIMARY KEY REFERENCES hosts(id) ON DELETE CASCADE,
  luna_id          uuid NOT NULL REFERENCES luna_services(id),
  lease_state      text CHECK (lease_state IN ('active', 'released')),
  lease_mac        text,
  lease_ip         inet,
  lease_hostname   text,
  lease_expires_at timestamptz,  -- NULL: never (or released)
  lease_at         timestamptz,
  boot_file        text,
  boot_ip          inet,
  boot_bytes       bigint,
  boot_at          timestamptz
);

-- Every Luna serves the boot profiles: a change is a new desired state for each of them.
CREATE FUNCTION notify_lunas_of_profiles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('desired_state', id::text) FROM luna_services;
  RETURN NULL;
END $$;
CREATE TRIGGER boot_profiles_notify AFTER INSERT OR UPDATE OR DELETE ON boot_profiles
  FOR EACH STATEMENT EXECUTE FUNCTION notify_lunas_of_profiles();
