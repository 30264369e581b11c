-- One notification per statement instead of one per status change: a batch of callbacks
-- (one statement, up to a hundred changes) was a hundred NOTIFYs, each queued, read by every
-- listening session and sent to every instance, which read them only to fetch the changes
-- together. The payload is now {"event_ids": ["…", …]} (ids as text: bigints), in id order,
-- at most 200 ids a notification (NOTIFY allows 8000 bytes), so a larger statement sends
-- several, in order. Still delivered at commit: listeners never see a change that rolled back.
DROP TRIGGER task_events_notify_manual ON task_events;

CREATE OR REPLACE FUNCTION task_events_notify_manual() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
  payload text;
BEGIN
  FOR payload IN
    SELECT json_build_object('event_ids', json_agg(id::text ORDER BY id))::text
    FROM (
      SELECT id, (row_number() OVER (ORDER BY id) - 1) / 200 AS part
      FROM inserted
      WHERE type = 'status_changed'
    ) AS changed
    GROUP BY part
    ORDER BY part
  LOOP
    PERFORM pg_notify('task_changes', payload);
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER task_events_notify_manual
AFTER INSERT ON task_events
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT
EXECUTE FUNCTION task_events_notify_manual();
