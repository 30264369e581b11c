import { Prisma } from '../generated/prisma/client.js'
import { scopeSql, timestamps } from './sql.js'

/**
 * The rollup's incremental step: takes (deletes) a batch of the delta rows the triggers on
 * `tasks` logged and adds them into the rollup. Its cost follows the number of deltas, not
 * the size of the buckets they change: it never reads `tasks`. Must run under the refresh
 * lock (src/stats/refresh.ts): the emptied rows are deleted by the ctids the upsert left.
 */
type Tx = Prisma.TransactionClient

/**
 * The last id of the first `limit` deltas (all of them when fewer): a bound, not a join to
 * the batch's ids, which a planner misled by stale statistics can make quadratic.
 */
const batchEnd = (table: 'stats_rollup_deltas' | 'stats_duration_deltas', limit: number) =>
  Prisma.sql`coalesce((SELECT id FROM ${Prisma.raw(table)} ORDER BY id OFFSET ${limit - 1} LIMIT 1), ${Prisma.raw('9223372036854775807')})`

/**
 * Adds up to `limit` rollup deltas into their hour rows and their days' rows, for the key's
 * scope and for `all`; rows that come to zero are deleted, so an emptied bucket has no rows.
 * Rows are found by key only (the upsert's conflict and the emptied rows' ctids): a join
 * could be planned as a scan of the whole rollup. Returns the number of deltas taken.
 */
export async function foldRollupDeltas(tx: Tx, limit: number): Promise<number> {
  const [row] = await tx.$queryRaw<{ taken: number; emptied: string[] }[]>`
    WITH taken AS (
      DELETE FROM stats_rollup_deltas WHERE id <= ${batchEnd('stats_rollup_deltas', limit)}
      RETURNING bucket, api_key_id, model, status, created, credits, ended
    ),
    facts AS (
      SELECT b.grain, b.bucket, t.api_key_id, t.model, t.status, t.created, t.credits, t.ended
      FROM taken t,
        LATERAL (VALUES ('hour'::"StatsGrain", t.bucket), ('day', date_trunc('day', t.bucket, 'UTC'))) AS b(grain, bucket)
    ),
    delta AS (
      SELECT t.grain, t.bucket, ${scopeSql} AS scope, t.model, t.status,
             sum(t.created)::int AS created, sum(t.credits) AS credits, sum(t.ended)::int AS ended
      FROM facts t
      GROUP BY GROUPING SETS ((t.grain, t.bucket, t.api_key_id, t.model, t.status), (t.grain, t.bucket, t.model, t.status))
      HAVING (sum(t.created), sum(t.credits), sum(t.ended)) <> (0, 0, 0)
    ),
    upserted AS (
      INSERT INTO stats_rollup AS r (grain, bucket, scope, model, status, created, credits, ended)
      SELECT grain, bucket, scope, model, status, created, credits, ended FROM delta
      ON CONFLICT (grain, bucket, scope, model, status) DO UPDATE
      SET created = r.created + excluded.created, credits = r.credits + excluded.credits,
          ended = r.ended + excluded.ended
      RETURNING r.ctid, r.created, r.credits, r.ended
    )
    SELECT (SELECT count(*) FROM taken)::int AS taken,
           array(SELECT ctid::text FROM upserted WHERE (created, credits, ended) = (0, 0, 0)) AS emptied`
  // A statement does not see the row versions it wrote itself: the emptied rows go in a second one.
  if (row!.emptied.length > 0)
    await tx.$executeRaw`
      DELETE FROM stats_rollup
      WHERE ctid = ANY(${row!.emptied}::tid[]) AND (created, credits, ended) = (0, 0, 0)`
  return row!.taken
}

export interface DurationFold {
  /** Deltas taken. */
  taken: number
  /** Days (epoch ms) with a removed duration among them: the caller must recount them. */
  removals: number[]
}

/**
 * Adds up to `limit` duration deltas into the day histograms (tasks +=, min = least, max =
 * greatest), except those of `recounted` days and of days where a duration was removed:
 * a min or max cannot be taken back, so those days are recounted instead, which counts
 * their deltas too. Histograms only grow here, so no row comes to zero.
 */
export async function foldDurationDeltas(tx: Tx, limit: number, recounted: number[]): Promise<DurationFold> {
  const [row] = await tx.$queryRaw<DurationFold[]>`
    WITH taken AS (
      DELETE FROM stats_duration_deltas WHERE id <= ${batchEnd('stats_duration_deltas', limit)}
      RETURNING bucket, api_key_id, model, bin, tasks, removed, min_seconds, max_seconds
    ),
    skipped AS (
      SELECT bucket FROM taken WHERE removed > 0
      UNION
      SELECT unnest(${timestamps(recounted)})
    ),
    delta AS (
      SELECT t.bucket, ${scopeSql} AS scope, t.model, t.bin, sum(t.tasks)::int AS tasks,
             min(t.min_seconds) AS min_seconds, max(t.max_seconds) AS max_seconds
      FROM taken t
      WHERE t.bucket NOT IN (SELECT bucket FROM skipped)
      GROUP BY GROUPING SETS ((t.bucket, t.api_key_id, t.model, t.bin), (t.bucket, t.model, t.bin))
    ),
    upserted AS (
      INSERT INTO stats_durations AS d (bucket, scope, model, bin, tasks, min_seconds, max_seconds)
      SELECT bucket, scope, model, bin, tasks, min_seconds, max_seconds FROM delta
      ON CONFLICT (bucket, scope, model, bin) DO UPDATE
      SET tasks = d.tasks + excluded.tasks,
          min_seconds = least(d.min_seconds, excluded.min_seconds),
          max_seconds = greatest(d.max_seconds, excluded.max_seconds)
    )
    SELECT (SELECT count(*) FROM taken)::int AS taken,
           array(SELECT DISTINCT (extract(epoch FROM bucket) * 1000)::float8 FROM taken WHERE removed > 0) AS removals`
  return row!
}
