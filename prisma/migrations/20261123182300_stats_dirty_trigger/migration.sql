-- The stats rollup's dirty log (see stats_rollup in schema.prisma and src/stats/refresh.ts):
-- every change to a task that can move a number of GET /v1/stats writes the UTC hours it
-- touches (the hour it was created in, and the hour it ended in, before and after the
-- change) to `stats_dirty`, in the same transaction. Plain INSERTs into an append-only table:
-- concurrent transitions never wait on one another here. The refresh job recomputes those
-- hours (and their days) and deletes the rows; until then the query computes them live.
-- Triggers and functions are not in schema.prisma; the `_manual` suffix marks them as ours.

-- Inserts (one statement may insert many tasks, e.g. a bulk load): one row per distinct hour.
CREATE OR REPLACE FUNCTION stats_dirty_inserted_manual() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  INSERT INTO stats_dirty (bucket)
  SELECT DISTINCT hour
  FROM inserted, LATERAL (VALUES (date_trunc('hour', inserted.created_at, 'UTC')),
                                 (date_trunc('hour', inserted.finished_at, 'UTC'))) AS touched(hour)
  WHERE hour IS NOT NULL;
  RETURN NULL;
END
$$;

CREATE TRIGGER stats_dirty_inserted_manual
AFTER INSERT ON tasks
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT
EXECUTE FUNCTION stats_dirty_inserted_manual();

-- Updates: only those that change a counted column (status, credits, the durations' and
-- series' timestamps, the owner), so progress and polling bookkeeping cost nothing here.
CREATE OR REPLACE FUNCTION stats_dirty_updated_manual() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  INSERT INTO stats_dirty (bucket)
  SELECT DISTINCT hour
  FROM (VALUES (date_trunc('hour', OLD.created_at, 'UTC')), (date_trunc('hour', OLD.finished_at, 'UTC')),
               (date_trunc('hour', NEW.created_at, 'UTC')), (date_trunc('hour', NEW.finished_at, 'UTC'))) AS touched(hour)
  WHERE hour IS NOT NULL;
  RETURN NULL;
END
$$;

CREATE TRIGGER stats_dirty_updated_manual
AFTER UPDATE ON tasks
FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status
   OR OLD.credits IS DISTINCT FROM NEW.credits
   OR OLD.finished_at IS DISTINCT FROM NEW.finished_at
   OR OLD.submitted_at IS DISTINCT FROM NEW.submitted_at
   OR OLD.api_key_id IS DISTINCT FROM NEW.api_key_id
   OR OLD.created_at IS DISTINCT FROM NEW.created_at
   OR OLD.model IS DISTINCT FROM NEW.model)
EXECUTE FUNCTION stats_dirty_updated_manual();

-- Deletes (no API deletes tasks, but the numbers must stay exact if someone does).
CREATE OR REPLACE FUNCTION stats_dirty_deleted_manual() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  INSERT INTO stats_dirty (bucket)
  SELECT DISTINCT hour
  FROM deleted, LATERAL (VALUES (date_trunc('hour', deleted.created_at, 'UTC')),
                                (date_trunc('hour', deleted.finished_at, 'UTC'))) AS touched(hour)
  WHERE hour IS NOT NULL;
  RETURN NULL;
END
$$;

CREATE TRIGGER stats_dirty_deleted_manual
AFTER DELETE ON tasks
REFERENCING OLD TABLE AS deleted
FOR EACH STATEMENT
EXECUTE FUNCTION stats_dirty_deleted_manual();

-- Tasks already stored when this migration runs: every hour they touch is dirty, so the
-- first refresh builds their rollup (until then the stats query counts those hours live).
INSERT INTO stats_dirty (bucket)
SELECT date_trunc('hour', created_at, 'UTC') FROM tasks
UNION
SELECT date_trunc('hour', finished_at, 'UTC') FROM tasks WHERE finished_at IS NOT NULL;
