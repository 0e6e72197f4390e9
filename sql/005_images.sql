-- Images and accounting, version 5: the image upload state machine and the lookups its API needs.

-- pending (no file yet) -> uploading -> active; a failed upload goes back to pending.
ALTER TABLE images ADD CONSTRAINT images_upload_state
  CHECK (upload_state IN ('pending', 'uploading', 'active', 'error'));
ALTER TABLE images ADD CONSTRAINT images_disk_format CHECK (disk_format IN ('qcow2', 'raw'));
-- An active image always says what its file is.
ALTER TABLE images ADD CONSTRAINT images_active_described
  CHECK (upload_state <> 'active' OR (disk_format IS NOT NULL AND size_bytes IS NOT NULL AND sha256 IS NOT NULL));
-- Public images have no tenant; private ones always have one.
ALTER TABLE images ADD CONSTRAINT images_visibility_tenant
  CHECK ((visibility = 'public') = (tenant_id IS NULL));

-- Names are unique among a tenant's live images, and among the public ones.
CREATE UNIQUE INDEX images_name_live
  ON images (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'), name) WHERE deleted_at IS NULL;
CREATE INDEX images_tenant ON images (tenant_id, seq);

-- Deleting an image asks whether a live instance still boots from it.
CREATE INDEX instances_image ON instances ((spec->>'image_id')) WHERE deleted_at IS NULL;

-- Audit queries filter by time; listing pages by id.
CREATE INDEX audit_events_at ON audit_events (at);
