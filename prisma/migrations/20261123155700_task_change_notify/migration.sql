-- Live task changes for GET /v1/stream on every instance: each status change (one
-- `status_changed` task event, written by src/tasks/transitions.ts) is announced on the
-- `task_changes` channel. NOTIFY is delivered at commit, so listeners never see a change
-- that rolled back. The payload stays small (NOTIFY allows 8000 bytes), listeners read the rest.
-- Triggers and functions are not in schema.prisma; the `_manual` suffix marks them as ours.
CREATE OR REPLACE FUNCTION task_events_notify_manual() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM pg_notify('task_changes', json_build_object(
    'event_id', NEW.id::text, 'task_id', NEW.task_id, 'to_status', NEW.to_status)::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER task_events_notify_manual
AFTER INSERT ON task_events
FOR EACH ROW WHEN (NEW.type = 'status_changed')
EXECUTE FUNCTION task_events_notify_manual();
