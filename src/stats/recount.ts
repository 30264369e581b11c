import { Prisma } from '../generated/prisma/client.js'
import { durationBinSql, durationSecondsSql, hasDurationSql } from './histogram.js'
import { dayMs, floorTo } from './plan.js'
import { bucketRanges, inRanges, scopeSql, timestamps } from './sql.js'

/**
 * The rollup's fallback: buckets counted again from `tasks`, for what deltas cannot say
 * (hours named in `stats_dirty`, days that lost a duration). Each statement also deletes the
 * pending deltas of the buckets it recounts: in the same snapshot, so a delta is either in
 * the recount (and deleted) or committed after it (and kept for the next fold), never both.
 */
type Tx = Prisma.TransactionClient
type Grain = 'hour' | 'day'

/** Hour rows counted from `tasks`: created/credits by creation time, `ended` by finished_at. */
const freshHoursFromTasks = (hours: number[]) => {
  const ranges = bucketRanges(hours)
  return Prisma.sql`
    dropped AS (DELETE FROM stats_rollup_deltas WHERE bucket = ANY(${timestamps(hours)})),
    facts AS (
      SELECT date_trunc('hour', t.created_at, 'UTC') AS bucket, t.api_key_id, t.model, t.status,
             1 AS created, t.credits::numeric AS credits, 0 AS ended
      FROM tasks t WHERE ${inRanges('t.created_at', ranges)}
      UNION ALL
      SELECT date_trunc('hour', t.finished_at, 'UTC'), t.api_key_id, t.model, t.status, 0, NULL, 1
      FROM tasks t WHERE ${inRanges('t.finished_at', ranges)} AND t.status IN ('finished', 'failed')
    ),
    fresh AS (
      SELECT t.bucket, ${scopeSql} AS scope, t.model, t.status, sum(t.created)::int AS created,
             coalesce(sum(t.credits), 0) AS credits, sum(t.ended)::int AS ended
      FROM facts t
      GROUP BY GROUPING SETS ((t.bucket, t.api_key_id, t.model, t.status), (t.bucket, t.model, t.status))
    )`
}

/**
 * Day rows as the sums of their hour rows (far cheaper than counting a busy day's tasks
 * again): the fold adds each delta to its hour and its day, so a day row always equals the
 * sum of its hour rows, and stays so when some of them are recounted.
 */
const freshDaysFromHours = (days: number[]) => Prisma.sql`
    fresh AS (
      SELECT date_trunc('day', h.bucket, 'UTC') AS bucket, h.scope, h.model, h.status,
             sum(h.created)::int AS created, sum(h.credits) AS credits, sum(h.ended)::int AS ended
      FROM stats_rollup h
      WHERE h.grain = 'hour' AND ${inRanges('h.bucket', bucketRanges([], days))}
      GROUP BY 1, 2, 3, 4
    )`

/**
 * Writes the rollup rows of `starts` from `fresh` (rows for `grain`): upserted (unchanged
 * ones are not rewritten), and rows of groups no longer in `fresh` deleted, so a bucket that
 * became empty has no rows.
 */
function writeRollup(tx: Tx, grain: Grain, starts: number[], fresh: Prisma.Sql) {
  const unit = Prisma.raw(`'${grain}'`)
  return tx.$executeRaw`
    WITH buckets AS (SELECT unnest(${timestamps(starts)}) AS bucket),
    ${fresh},
    upserted AS (
      INSERT INTO stats_rollup AS r (grain, bucket, scope, model, status, created, credits, ended)
      SELECT ${unit}, bucket, scope, model, status, created, credits, ended FROM fresh
      ON CONFLICT (grain, bucket, scope, model, status) DO UPDATE
      SET created = excluded.created, credits = excluded.credits, ended = excluded.ended
      WHERE (r.created, r.credits, r.ended) IS DISTINCT FROM (excluded.created, excluded.credits, excluded.ended)
    )
    DELETE FROM stats_rollup r USING buckets b
    WHERE r.grain = ${unit} AND r.bucket = b.bucket
      AND NOT EXISTS (SELECT 1 FROM fresh f
                      WHERE (f.bucket, f.scope, f.model, f.status) = (r.bucket, r.scope, r.model, r.status))`
}

/** Recounts the hour rows of `hours` (epoch ms) from `tasks`, and their days from hour rows. */
export async function recountHours(tx: Tx, hours: number[]): Promise<void> {
  if (hours.length === 0) return
  const days = [...new Set(hours.map((hour) => floorTo(hour, dayMs)))]
  await writeRollup(tx, 'hour', hours, freshHoursFromTasks(hours))
  await writeRollup(tx, 'day', days, freshDaysFromHours(days))
}

/** Recounts the duration histograms of `days` (epoch ms, by creation day) from `tasks`. */
export async function recountDurations(tx: Tx, days: number[]): Promise<void> {
  if (days.length === 0) return
  await tx.$executeRaw`
    WITH buckets AS (SELECT unnest(${timestamps(days)}) AS bucket),
    dropped AS (DELETE FROM stats_duration_deltas WHERE bucket = ANY(${timestamps(days)})),
    facts AS (
      SELECT date_trunc('day', t.created_at, 'UTC') AS bucket, t.api_key_id, t.model,
             ${durationBinSql} AS bin, ${durationSecondsSql} AS seconds
      FROM tasks t
      WHERE ${inRanges('t.created_at', bucketRanges([], days))} AND ${hasDurationSql}
    ),
    fresh AS (
      SELECT t.bucket, ${scopeSql} AS scope, t.model, t.bin, count(*)::int AS tasks,
             min(t.seconds) AS min_seconds, max(t.seconds) AS max_seconds
      FROM facts t
      GROUP BY GROUPING SETS ((t.bucket, t.api_key_id, t.model, t.bin), (t.bucket, t.model, t.bin))
    ),
    upserted AS (
      INSERT INTO stats_durations AS d (bucket, scope, model, bin, tasks, min_seconds, max_seconds)
      SELECT bucket, scope, model, bin, tasks, min_seconds, max_seconds FROM fresh
      ON CONFLICT (bucket, scope, model, bin) DO UPDATE
      SET tasks = excluded.tasks, min_seconds = excluded.min_seconds, max_seconds = excluded.max_seconds
      WHERE (d.tasks, d.min_seconds, d.max_seconds)
            IS DISTINCT FROM (excluded.tasks, excluded.min_seconds, excluded.max_seconds)
    )
    DELETE FROM stats_durations d USING buckets b
    WHERE d.bucket = b.bucket
      AND NOT EXISTS (SELECT 1 FROM fresh f WHERE (f.bucket, f.scope, f.model, f.bin) = (d.bucket, d.scope, d.model, d.bin))`
}
