-- Instance actions (start, stop, reboot) are desired-state changes that a host carries out
-- later: the API names the one still waiting for its host. `action` and `action_generation`
-- record the last action and the generation it made; `pending_action` is what is still to be
-- done, until the host reports a generation at least that new:
--   create (never reported), start, stop, reboot (the last action), delete, update (another
--   spec change), or NULL when the host has caught up.
ALTER TABLE instances ADD COLUMN action text CHECK (action IN ('start', 'stop', 'reboot'));
ALTER TABLE instances ADD COLUMN action_generation bigint NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN pending_action text GENERATED ALWAYS AS (
  CASE
    WHEN observed_generation >= generation THEN NULL
    WHEN deleted_at IS NOT NULL THEN 'delete'
    WHEN action IS NOT NULL AND action_generation > observed_generation THEN action
    WHEN observed_generation = 0 THEN 'create'
    ELSE 'update'
  END) STORED;
