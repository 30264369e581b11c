import type { PrismaClient } from '../db/client.js'
import { Prisma } from '../generated/prisma/client.js'
import { durationBinSql, durationSecondsSql, hasDurationSql } from './histogram.js'
import { dayMs } from './plan.js'

type Tx = Prisma.TransactionClient
type Grain = 'hour' | 'day'

/** Any fixed number: the advisory lock that keeps refreshes one at a time. */
const refreshLockKey = 727_465_001

/** Who a rollup row counts: `all` for admins, else the task's key (`none` without one). */
const scopeSql = Prisma.sql`CASE WHEN grouping(t.api_key_id) = 1 THEN 'all' ELSE coalesce(t.api_key_id::text, 'none') END`

const bucketsSql = (starts: Date[]) =>
  Prisma.sql`(SELECT unnest(${starts.map((d) => d.toISOString())}::timestamptz[]) AS bucket)`

/** Hour rows for the hours in `buckets`, counted from `tasks`: created/credits by creation time, `ended` by finished_at. */
const freshHoursFromTasks = Prisma.sql`
    facts AS (
      SELECT b.bucket, t.api_key_id, t.model, t.status, 1 AS created, t.credits::numeric AS credits, 0 AS ended
      FROM buckets b JOIN tasks t ON t.created_at >= b.bucket AND t.created_at < b.bucket + interval '1 hour'
      UNION ALL
      SELECT b.bucket, t.api_key_id, t.model, t.status, 0, NULL, 1
      FROM buckets b JOIN tasks t ON t.finished_at >= b.bucket AND t.finished_at < b.bucket + interval '1 hour'
      WHERE t.status IN ('finished', 'failed')
    ),
    fresh AS (
      SELECT t.bucket, ${scopeSql} AS scope, t.model, t.status, sum(t.created)::int AS created,
             coalesce(sum(t.credits), 0) AS credits, sum(t.ended)::int AS ended
      FROM facts t
      GROUP BY GROUPING SETS ((t.bucket, t.api_key_id, t.model, t.status), (t.bucket, t.model, t.status))
    )`

/**
 * Day rows for the days in `buckets` as the sums of their hour rows: far cheaper than
 * counting a busy day's tasks again. An hour of the day that is still dirty makes its hour
 * row, and so this sum, stale until it is refreshed; the stats query reads no day row of a
 * day with a dirty hour, and that hour's refresh sums the day again.
 */
const freshFromHours = Prisma.sql`
    fresh AS (
      SELECT b.bucket, h.scope, h.model, h.status, sum(h.created)::int AS created,
             sum(h.credits) AS credits, sum(h.ended)::int AS ended
      FROM buckets b
      JOIN stats_rollup h ON h.grain = 'hour' AND h.bucket >= b.bucket AND h.bucket < b.bucket + interval '1 day'
      GROUP BY b.bucket, h.scope, h.model, h.status
    )`

/**
 * Writes the rollup rows of `starts` from `fresh` (rows for `grain`): upserted (unchanged
 * ones are not rewritten), and rows of groups no longer in `fresh` deleted, so a bucket that
 * became empty has no rows.
 */
function writeRollup(tx: Tx, grain: Grain, starts: Date[], fresh: Prisma.Sql) {
  const unit = Prisma.raw(`'${grain}'`)
  return tx.$executeRaw`
    WITH buckets AS ${bucketsSql(starts)},
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

/** The same for the duration histograms of `days` (by creation day). */
function recomputeDurations(tx: Tx, days: Date[]) {
  return tx.$executeRaw`
    WITH buckets AS ${bucketsSql(days)},
    facts AS (
      SELECT b.bucket, t.api_key_id, t.model, ${durationBinSql} AS bin, ${durationSecondsSql} AS seconds
      FROM buckets b JOIN tasks t ON t.created_at >= b.bucket AND t.created_at < b.bucket + interval '1 day'
      WHERE ${hasDurationSql}
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

export interface RefreshOptions {
  /** Dirty hours taken per transaction (a bulk load dirties thousands; keeps each one short). */
  maxHours?: number
  /** Tests: runs inside each transaction after the recompute, just before it commits. */
  beforeCommit?: () => Promise<void>
}

/**
 * One transaction: take (delete) a batch of dirty hours, then recompute those hours and
 * their days. This cannot lose a change: the DELETE's snapshot precedes the recompute's
 * (each statement takes a new one in READ COMMITTED), so every change whose dirty row was
 * taken is in the recompute, and a change that commits later (or is still open) leaves its
 * own dirty row, which this DELETE did not see, for the next refresh. Until then the stats
 * query computes that hour live.
 */
async function refreshBatch(prisma: PrismaClient, maxHours: number, beforeCommit?: () => Promise<void>) {
  return prisma.$transaction(
    async (tx) => {
      // One refresh at a time, even outside the queue (a second one would insert the same keys).
      await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${refreshLockKey}::bigint)`
      const taken = await tx.$queryRaw<{ bucket: Date }[]>`
        WITH chosen AS (SELECT DISTINCT bucket FROM stats_dirty ORDER BY bucket LIMIT ${maxHours}),
        taken AS (DELETE FROM stats_dirty d USING chosen c WHERE d.bucket = c.bucket RETURNING d.bucket)
        SELECT DISTINCT bucket FROM taken`
      if (taken.length === 0) return 0
      const hours = taken.map((row) => row.bucket)
      const days = [...new Set(hours.map((hour) => Math.floor(hour.getTime() / dayMs) * dayMs))].map(
        (ms) => new Date(ms),
      )
      await writeRollup(tx, 'hour', hours, freshHoursFromTasks)
      await writeRollup(tx, 'day', days, freshFromHours)
      await recomputeDurations(tx, days)
      await beforeCommit?.()
      return hours.length
    },
    { maxWait: 10_000, timeout: 10 * 60_000 },
  )
}

/** Brings the rollup up to date with every change committed before it started; returns the hours redone. */
export async function refreshStats(prisma: PrismaClient, options: RefreshOptions = {}): Promise<number> {
  const maxHours = options.maxHours ?? 7 * 24
  let total = 0
  for (;;) {
    const hours = await refreshBatch(prisma, maxHours, options.beforeCommit)
    total += hours
    // A full batch may have left more; a partial one took all there was when it ran.
    if (hours < maxHours) return total
  }
}
