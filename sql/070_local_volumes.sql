-- A volume of the `local` backend lives in one host's storage pool: the host of the first instance
-- it is attached to (pinned when the attachment is made, or when an instance that waited for a
-- host gets one). Its agent then holds it in its desired state, creates, grows and deletes it.
CREATE INDEX volumes_host ON volumes (host_id) WHERE host_id IS NOT NULL;

CREATE FUNCTION pin_local_volumes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE volumes v SET host_id = i.host_id, updated_at = now()
    FROM volume_attachments a JOIN instances i ON i.id = a.instance_id
   WHERE a.volume_id = v.id AND a.deleted_at IS NULL AND i.host_id IS NOT NULL AND v.host_id IS NULL
     AND coalesce(v.spec->>'backend', 'local') = 'local'
     AND ((TG_TABLE_NAME = 'instances' AND i.id = NEW.id)
          OR (TG_TABLE_NAME = 'volume_attachments' AND a.id = NEW.id));
  RETURN NULL;
END $$;

-- Not on INSERT: a new instance has no attachment yet (they are inserted after it, and pinned by
-- the trigger below); an instance that waited for a host gets one by UPDATE.
CREATE TRIGGER instances_pin_local_volumes AFTER UPDATE OF host_id ON instances
  FOR EACH ROW WHEN (NEW.host_id IS NOT NULL) EXECUTE FUNCTION pin_local_volumes();
CREATE TRIGGER volume_attachments_pin_local_volumes AFTER INSERT ON volume_attachments
  FOR EACH ROW EXECUTE FUNCTION pin_local_volumes();

-- A volume's host gets its document again when the volume is placed, grown or deleted.
CREATE TRIGGER volumes_notify_desired_state AFTER INSERT OR UPDATE OR DELETE ON volumes
  FOR EACH ROW EXECUTE FUNCTION notify_desired_state();
