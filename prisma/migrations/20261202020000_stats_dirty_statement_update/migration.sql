-- The stats dirty log's update trigger, once per statement instead of once per row: a
-- statement that changes many tasks at once (the service's batched status changes) writes
-- the distinct hours they touch in one INSERT. Same rule as before: only changes to a
-- counted column mark hours dirty. Rows are paired by id, which no statement changes.
-- Triggers and functions are not in schema.prisma; the `_manual` suffix marks them as ours.
DROP TRIGGER stats_dirty_updated_manual ON tasks;

CREATE OR REPLACE FUNCTION stats_dirty_updated_manual() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  INSERT INTO stats_dirty (bucket)
  SELECT DISTINCT hour
  FROM old_rows o JOIN new_rows n ON n.id = o.id,
    LATERAL (VALUES (date_trunc('hour', o.created_at, 'UTC')), (date_trunc('hour', o.finished_at, 'UTC')),
                    (date_trunc('hour', n.created_at, 'UTC')), (date_trunc('hour', n.finished_at, 'UTC'))) AS touched(hour)
  WHERE hour IS NOT NULL
    AND (o.status IS DISTINCT FROM n.status
      OR o.credits IS DISTINCT FROM n.credits
      OR o.finished_at IS DISTINCT FROM n.finished_at
      OR o.submitted_at IS DISTINCT FROM n.submitted_at
      OR o.api_key_id IS DISTINCT FROM n.api_key_id
      OR o.created_at IS DISTINCT FROM n.created_at
      OR o.model IS DISTINCT FROM n.model);
  RETURN NULL;
END
$$;

CREATE TRIGGER stats_dirty_updated_manual
AFTER UPDATE ON tasks
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT
EXECUTE FUNCTION stats_dirty_updated_manual();
