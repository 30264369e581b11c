-- The stats rollup, incremental (see stats_rollup_deltas in schema.prisma and src/stats/):
-- instead of the UTC hours a change touches, the triggers on `tasks` now log what it changes
-- in the rollup (old rows negative, new rows positive, aggregated per statement), and the
-- refresh adds those deltas to the rollup rather than recounting the hours from `tasks`.
-- `stats_dirty` stays as the log of hours to recount: rows written by the old triggers
-- before this migration are recounted as before (the query counts them live until then).

-- CreateTable
CREATE TABLE "stats_rollup_deltas" (
    "id" BIGSERIAL NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "api_key_id" UUID,
    "model" TEXT NOT NULL,
    "status" "TaskStatus" NOT NULL,
    "created" INTEGER NOT NULL,
    "credits" DECIMAL NOT NULL,
    "ended" INTEGER NOT NULL,

    CONSTRAINT "stats_rollup_deltas_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "stats_duration_deltas" (
    "id" BIGSERIAL NOT NULL,
    "bucket" TIMESTAMPTZ(3) NOT NULL,
    "api_key_id" UUID,
    "model" TEXT NOT NULL,
    "bin" INTEGER NOT NULL,
    "tasks" INTEGER NOT NULL,
    "removed" INTEGER NOT NULL,
    "min_seconds" DOUBLE PRECISION,
    "max_seconds" DOUBLE PRECISION,

    CONSTRAINT "stats_duration_deltas_pkey" PRIMARY KEY ("id")
);

-- The dirty-hour triggers give way to the delta triggers below (in this one transaction, so
-- no change is logged by neither).
DROP TRIGGER stats_dirty_inserted_manual ON tasks;
DROP TRIGGER stats_dirty_updated_manual ON tasks;
DROP TRIGGER stats_dirty_deleted_manual ON tasks;
DROP FUNCTION stats_dirty_inserted_manual();
DROP FUNCTION stats_dirty_updated_manual();
DROP FUNCTION stats_dirty_deleted_manual();

-- One INSERT per statement (the durations' insert is a CTE of it), whatever the number of rows:
-- the service's batched status change fires these once per batch. The three functions run
-- the same statement over a different `signed` relation: (sign, the counted columns, timed).
-- The facts are those the refresh's recount counts (src/stats/recount.ts): created and credits
-- by created_at's hour and the current status, ended by finished_at's hour for finished and
-- failed tasks; durations by created_at's day, with the expressions of src/stats/histogram.ts
-- (durationBinSql, durationSecondsSql, hasDurationSql; a test holds them equal). Groups of
-- the rollup that sum to zero are dropped; `timed` is false for an updated row whose
-- duration facts did not change, so it neither adds nor removes a duration.
-- Triggers and functions are not in schema.prisma; the `_manual` suffix marks them as ours.

CREATE OR REPLACE FUNCTION stats_deltas_inserted_manual() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  WITH signed AS (
    SELECT 1 AS sign, created_at, api_key_id, model, status, credits, submitted_at, finished_at, TRUE AS timed
    FROM inserted
  ), counted AS (
    SELECT date_trunc('hour', created_at, 'UTC') AS bucket, api_key_id, model, status,
           sign AS created, sign * coalesce(credits::numeric, 0) AS credits, 0 AS ended
    FROM signed
    UNION ALL
    SELECT date_trunc('hour', finished_at, 'UTC'), api_key_id, model, status, 0, 0, sign
    FROM signed WHERE status IN ('finished', 'failed') AND finished_at IS NOT NULL
  ), durations AS (
    INSERT INTO stats_duration_deltas (bucket, api_key_id, model, bin, tasks, removed, min_seconds, max_seconds)
    SELECT date_trunc('day', created_at, 'UTC'), api_key_id, model, bin, sum(sign), count(*) FILTER (WHERE sign < 0),
           min(seconds) FILTER (WHERE sign > 0), max(seconds) FILTER (WHERE sign > 0)
    FROM (
      SELECT sign, created_at, api_key_id, model,
             floor(ln(greatest(extract(epoch FROM finished_at - submitted_at)::float8, 0.001)) * 46.16624130844683)::int AS bin,
             extract(epoch FROM finished_at - submitted_at)::float8 AS seconds
      FROM signed
      WHERE timed AND status = 'finished' AND submitted_at IS NOT NULL AND finished_at IS NOT NULL
    ) finished
    GROUP BY 1, 2, 3, 4
  )
  INSERT INTO stats_rollup_deltas (bucket, api_key_id, model, status, created, credits, ended)
  SELECT bucket, api_key_id, model, status, sum(created), sum(credits), sum(ended)
  FROM counted
  GROUP BY bucket, api_key_id, model, status
  HAVING sum(created) <> 0 OR sum(credits) <> 0 OR sum(ended) <> 0;
  RETURN NULL;
END
$$;

CREATE TRIGGER stats_deltas_inserted_manual
AFTER INSERT ON tasks
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT
EXECUTE FUNCTION stats_deltas_inserted_manual();

-- Updates: each changed row as its old version (negative) and its new one (positive), only
-- for rows where a counted column changed, so progress and polling bookkeeping log nothing.
-- Rows are paired by id, which no statement changes.
CREATE OR REPLACE FUNCTION stats_deltas_updated_manual() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  -- Two selects from the pairs, not a LATERAL VALUES per pair: that took 70 of the 340 µs a
  -- batch of 16 cost.
  WITH pairs AS (
    SELECT o.created_at AS old_created_at, o.api_key_id AS old_api_key_id, o.model AS old_model,
           o.status AS old_status, o.credits AS old_credits, o.submitted_at AS old_submitted_at,
           o.finished_at AS old_finished_at,
           n.created_at, n.api_key_id, n.model, n.status, n.credits, n.submitted_at, n.finished_at,
           (o.created_at, o.api_key_id, o.model, o.status, o.submitted_at, o.finished_at)
             IS DISTINCT FROM (n.created_at, n.api_key_id, n.model, n.status, n.submitted_at, n.finished_at) AS timed
    FROM old_rows o JOIN new_rows n ON n.id = o.id
  ), signed AS (
    SELECT -1 AS sign, old_created_at AS created_at, old_api_key_id AS api_key_id, old_model AS model,
           old_status AS status, old_credits AS credits, old_submitted_at AS submitted_at,
           old_finished_at AS finished_at, timed
    FROM pairs WHERE timed OR old_credits IS DISTINCT FROM credits
    UNION ALL
    SELECT 1, created_at, api_key_id, model, status, credits, submitted_at, finished_at, timed
    FROM pairs WHERE timed OR old_credits IS DISTINCT FROM credits
  ), counted AS (
    SELECT date_trunc('hour', created_at, 'UTC') AS bucket, api_key_id, model, status,
           sign AS created, sign * coalesce(credits::numeric, 0) AS credits, 0 AS ended
    FROM signed
    UNION ALL
    SELECT date_trunc('hour', finished_at, 'UTC'), api_key_id, model, status, 0, 0, sign
    FROM signed WHERE status IN ('finished', 'failed') AND finished_at IS NOT NULL
  ), durations AS (
    INSERT INTO stats_duration_deltas (bucket, api_key_id, model, bin, tasks, removed, min_seconds, max_seconds)
    SELECT date_trunc('day', created_at, 'UTC'), api_key_id, model, bin, sum(sign), count(*) FILTER (WHERE sign < 0),
           min(seconds) FILTER (WHERE sign > 0), max(seconds) FILTER (WHERE sign > 0)
    FROM (
      SELECT sign, created_at, api_key_id, model,
             floor(ln(greatest(extract(epoch FROM finished_at - submitted_at)::float8, 0.001)) * 46.16624130844683)::int AS bin,
             extract(epoch FROM finished_at - submitted_at)::float8 AS seconds
      FROM signed
      WHERE timed AND status = 'finished' AND submitted_at IS NOT NULL AND finished_at IS NOT NULL
    ) finished
    GROUP BY 1, 2, 3, 4
  )
  INSERT INTO stats_rollup_deltas (bucket, api_key_id, model, status, created, credits, ended)
  SELECT bucket, api_key_id, model, status, sum(created), sum(credits), sum(ended)
  FROM counted
  GROUP BY bucket, api_key_id, model, status
  HAVING sum(created) <> 0 OR sum(credits) <> 0 OR sum(ended) <> 0;
  RETURN NULL;
END
$$;

CREATE TRIGGER stats_deltas_updated_manual
AFTER UPDATE ON tasks
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT
EXECUTE FUNCTION stats_deltas_updated_manual();

-- Deletes (no API deletes tasks, but the numbers must stay exact if someone does).
CREATE OR REPLACE FUNCTION stats_deltas_deleted_manual() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  WITH signed AS (
    SELECT -1 AS sign, created_at, api_key_id, model, status, credits, submitted_at, finished_at, TRUE AS timed
    FROM deleted
  ), counted AS (
    SELECT date_trunc('hour', created_at, 'UTC') AS bucket, api_key_id, model, status,
           sign AS created, sign * coalesce(credits::numeric, 0) AS credits, 0 AS ended
    FROM signed
    UNION ALL
    SELECT date_trunc('hour', finished_at, 'UTC'), api_key_id, model, status, 0, 0, sign
    FROM signed WHERE status IN ('finished', 'failed') AND finished_at IS NOT NULL
  ), durations AS (
    INSERT INTO stats_duration_deltas (bucket, api_key_id, model, bin, tasks, removed, min_seconds, max_seconds)
    SELECT date_trunc('day', created_at, 'UTC'), api_key_id, model, bin, sum(sign), count(*) FILTER (WHERE sign < 0),
           min(seconds) FILTER (WHERE sign > 0), max(seconds) FILTER (WHERE sign > 0)
    FROM (
      SELECT sign, created_at, api_key_id, model,
             floor(ln(greatest(extract(epoch FROM finished_at - submitted_at)::float8, 0.001)) * 46.16624130844683)::int AS bin,
             extract(epoch FROM finished_at - submitted_at)::float8 AS seconds
      FROM signed
      WHERE timed AND status = 'finished' AND submitted_at IS NOT NULL AND finished_at IS NOT NULL
    ) finished
    GROUP BY 1, 2, 3, 4
  )
  INSERT INTO stats_rollup_deltas (bucket, api_key_id, model, status, created, credits, ended)
  SELECT bucket, api_key_id, model, status, sum(created), sum(credits), sum(ended)
  FROM counted
  GROUP BY bucket, api_key_id, model, status
  HAVING sum(created) <> 0 OR sum(credits) <> 0 OR sum(ended) <> 0;
  RETURN NULL;
END
$$;

CREATE TRIGGER stats_deltas_deleted_manual
AFTER DELETE ON tasks
REFERENCING OLD TABLE AS deleted
FOR EACH STATEMENT
EXECUTE FUNCTION stats_deltas_deleted_manual();
