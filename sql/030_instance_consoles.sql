-- The tail of each instance's serial console, as its agent last sent it (bounded by the agent, at
-- most 64 KiB): GET /api/v1/instances/{id}/console. Only the newest tail is kept.
CREATE TABLE instance_consoles (
  instance_id uuid PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
  output      bytea NOT NULL,
  -- Bytes the console file held when the tail was taken (the tail is its last bytes).
  total_bytes bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
