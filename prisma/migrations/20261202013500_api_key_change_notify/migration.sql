-- API key changes for the per-process key cache (src/auth/key-cache.ts): every change to a
-- key but a `last_used_at` write (a revocation, new hash, role or webhook secret), and every
-- deletion, is announced on `api_key_changes` with the key's id, so each instance evicts the
-- key at once, whoever wrote it (the service, `npm run keys`, psql). NOTIFY is delivered at
-- commit. TRUNCATE announces '*': drop every cached key.
-- Triggers and functions are not in schema.prisma; the `_manual` suffix marks them as ours.
CREATE OR REPLACE FUNCTION api_keys_notify_manual() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM pg_notify('api_key_changes', CASE WHEN TG_LEVEL = 'ROW' THEN OLD.id::text ELSE '*' END);
  RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_update_notify_manual
AFTER UPDATE ON api_keys
FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
EXECUTE FUNCTION api_keys_notify_manual();

CREATE TRIGGER api_keys_delete_notify_manual
AFTER DELETE ON api_keys
FOR EACH ROW EXECUTE FUNCTION api_keys_notify_manual();

CREATE TRIGGER api_keys_truncate_notify_manual
AFTER TRUNCATE ON api_keys
FOR EACH STATEMENT EXECUTE FUNCTION api_keys_notify_manual();
