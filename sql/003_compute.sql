-- Compute API (instances, volumes, attachments): the lookups its routes make on every request.

-- Live attachments of an instance (instance delete, PATCH of spec.volumes).
CREATE INDEX volume_attachments_instance ON volume_attachments (instance_id) WHERE deleted_at IS NULL;
-- A tenant's volumes in list order.
CREATE INDEX volumes_tenant ON volumes (tenant_id, seq);
-- Closing the open usage record of a resource (resize, delete) and a resource's history.
CREATE INDEX usage_records_resource ON usage_records (resource_id, started_at);
