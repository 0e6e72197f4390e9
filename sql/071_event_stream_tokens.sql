-- An open event stream ends when the token it was opened with is revoked: the stream hub
-- listens on this channel (the payload is the token id).
CREATE FUNCTION notify_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('token_revoked', NEW.id::text);
  RETURN NULL;
END $$;
CREATE TRIGGER api_tokens_notify_revoked AFTER UPDATE OF revoked_at ON api_tokens
  FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION notify_token_revoked();

-- Retention: the leader deletes events older than events.retention_days, oldest first.
CREATE INDEX IF NOT EXISTS events_at ON events (at);
