-- Node images: versions of the stateless Twilight node image that Luna network-boots (a kernel, an
-- initramfs and a root file system image). The three files are images of the image library
-- (uploaded with their sha256 like any image), so storage, upload and checksums are shared.
CREATE TABLE node_images (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq             bigserial NOT NULL UNIQUE,
  -- The version: it names a directory on every Luna, so it is never reused, not even after a
  -- delete (a Luna could otherwise keep serving the old files under the new version's name).
  name            text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$'),
  spec            jsonb NOT NULL DEFAULT '{}',
  kernel_image_id uuid NOT NULL REFERENCES images(id),
  initrd_image_id uuid NOT NULL REFERENCES images(id),
  root_image_id   uuid NOT NULL REFERENCES images(id),
  is_current      boolean NOT NULL DEFAULT false,
  -- When it last became current: the previous current version is the latest of the others, and
  -- Lunas keep it ready so that a rollback boots at once.
  made_current_at timestamptz,
  generation      bigint NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  deleted_at      timestamptz,
  CHECK (NOT (is_current AND deleted_at IS NOT NULL))
);
CREATE UNIQUE INDEX node_images_one_current ON node_images ((true)) WHERE is_current;

-- Every Luna serves every wanted version: wake the agent hub for all of them.
CREATE FUNCTION notify_all_lunas() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('desired_state', id::text) FROM luna_services;
  RETURN NULL;
END $$;

CREATE TRIGGER node_images_notify AFTER INSERT OR UPDATE OR DELETE ON node_images
  FOR EACH STATEMENT EXECUTE FUNCTION notify_all_lunas();
