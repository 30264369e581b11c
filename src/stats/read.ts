import { Prisma } from '../generated/prisma/client.js'
import type { Caller } from '../tasks/caller.js'
import { visibleTasksSql } from '../queries/scope.js'
import { type Bin, durationBinSql, durationSecondsSql, hasDurationSql } from './histogram.js'
import type { Range } from './plan.js'
import { bucketRanges, inRanges, timestamps } from './sql.js'

/**
 * The reads behind GET /v1/stats: each sums rollup rows for the parts of the window the
 * plan (plan.ts) takes from the rollup, with the deltas logged for those buckets and not yet
 * folded into them, and the same facts computed from `tasks` over its live ranges. Run in
 * one snapshot, they give what one query over `tasks` alone would.
 */
type Tx = Prisma.TransactionClient

/** The rollup scope of a caller: every task for admins, the key's own otherwise. */
export function rollupScope(caller: Caller): string {
  if (caller.role === 'admin') return 'all'
  return caller.apiKeyId ?? 'none'
}

export interface Scope {
  caller: Caller
  scope: string
}

export interface Unfolded {
  /** Hours `stats_dirty` names: their rollup rows wait for a recount. */
  hours: Set<number>
  /** Days with a pending removed duration: their histograms wait for a recount. */
  durationDays: Set<number>
}

/** What the rollup cannot answer yet between `from` and `to` (epoch ms), read in one round trip. */
export async function unfoldedBuckets(tx: Tx, from: number, to: number): Promise<Unfolded> {
  const [start, end] = [new Date(from).toISOString(), new Date(to).toISOString()]
  const rows = await tx.$queryRaw<{ kind: 'hour' | 'day'; ms: number }[]>`
    SELECT DISTINCT 'hour' AS kind, (extract(epoch FROM bucket) * 1000)::float8 AS ms FROM stats_dirty
    WHERE bucket >= ${start}::timestamptz AND bucket < ${end}::timestamptz
    UNION
    SELECT 'day', (extract(epoch FROM bucket) * 1000)::float8 FROM stats_duration_deltas
    WHERE bucket >= ${start}::timestamptz AND bucket < ${end}::timestamptz AND removed > 0`
  const of = (kind: 'hour' | 'day') => new Set(rows.filter((row) => row.kind === kind).map((row) => row.ms))
  return { hours: of('hour'), durationDays: of('day') }
}

/** Pending rollup deltas of `hours` and `days` visible to the caller (the delta's key, as in `tasks`). */
const pendingDeltas = (who: Scope, hours: number[], days: number[]) =>
  Prisma.sql`${visibleTasksSql(who.caller, 'd')} AND ${inRanges('d.bucket', bucketRanges(hours, days))}`

export interface CountRow {
  model: string
  status: string
  tasks: number
  credits: number
}

/**
 * Tasks and credits per model and status, over tasks created in `days`, `hours` (rollup rows
 * and pending deltas) and `live`, less those in `minus`.
 */
export function readCounts(
  tx: Tx,
  who: Scope,
  days: number[],
  hours: number[],
  live: Range[],
  minus: Range[],
) {
  return tx.$queryRaw<CountRow[]>`
    SELECT model, status::text AS status, sum(created)::int AS tasks, coalesce(sum(credits), 0)::float8 AS credits
    FROM (
      SELECT model, status, created, credits FROM stats_rollup
      WHERE grain = 'day' AND bucket = ANY(${timestamps(days)}) AND scope = ${who.scope}
      UNION ALL
      SELECT model, status, created, credits FROM stats_rollup
      WHERE grain = 'hour' AND bucket = ANY(${timestamps(hours)}) AND scope = ${who.scope}
      UNION ALL
      SELECT d.model, d.status, d.created, d.credits FROM stats_rollup_deltas d
      WHERE ${pendingDeltas(who, hours, days)}
      UNION ALL
      SELECT t.model, t.status, 1, t.credits::numeric
      FROM tasks t
      WHERE ${visibleTasksSql(who.caller, 't')} AND ${inRanges('t.created_at', live)}
      UNION ALL
      SELECT t.model, t.status, -1, -t.credits::numeric
      FROM tasks t
      WHERE ${visibleTasksSql(who.caller, 't')} AND ${inRanges('t.created_at', minus)}
    ) parts
    GROUP BY model, status
    HAVING sum(created) > 0`
}

/**
 * Duration histograms per model: day rows and pending deltas for `days` (none of which may
 * hold a removed duration: see unfoldedBuckets), computed from `tasks` over `live`, less the
 * tasks in `minus` (a bin that loses some keeps its day's min and max: still inside the bin,
 * so within the error bound).
 */
export async function readDurations(
  tx: Tx,
  who: Scope,
  days: number[],
  live: Range[],
  minus: Range[],
): Promise<Map<string, Bin[]>> {
  const rows = await tx.$queryRaw<(Bin & { model: string })[]>`
    SELECT model, bin, sum(tasks)::int AS tasks, min(min_seconds) AS min, max(max_seconds) AS max
    FROM (
      SELECT model, bin, tasks, min_seconds, max_seconds FROM stats_durations
      WHERE bucket = ANY(${timestamps(days)}) AND scope = ${who.scope}
      UNION ALL
      SELECT d.model, d.bin, d.tasks, d.min_seconds, d.max_seconds FROM stats_duration_deltas d
      WHERE d.bucket = ANY(${timestamps(days)}) AND ${visibleTasksSql(who.caller, 'd')}
      UNION ALL
      SELECT model, bin, count(*)::int, min(seconds), max(seconds)
      FROM (
        SELECT t.model, ${durationBinSql} AS bin, ${durationSecondsSql} AS seconds
        FROM tasks t
        WHERE ${visibleTasksSql(who.caller, 't')} AND ${inRanges('t.created_at', live)} AND ${hasDurationSql}
      ) l
      GROUP BY model, bin
      UNION ALL
      SELECT t.model, ${durationBinSql}, -1, NULL, NULL
      FROM tasks t
      WHERE ${visibleTasksSql(who.caller, 't')} AND ${inRanges('t.created_at', minus)} AND ${hasDurationSql}
    ) parts
    GROUP BY model, bin
    HAVING sum(tasks) > 0`
  const byModel = new Map<string, Bin[]>()
  for (const { model, ...bin } of rows) byModel.set(model, [...(byModel.get(model) ?? []), bin])
  return byModel
}

export interface SeriesRow {
  ms: number
  created: number
  finished: number
  failed: number
}

/**
 * Tasks created and tasks ended (by finished_at) per series bucket (`unit`), from day rows
 * for `days`, hour rows for `hours` (each with their pending deltas, logged per hour) and
 * `tasks` over `live`. Only non-empty buckets come back.
 */
export function readSeries(
  tx: Tx,
  who: Scope,
  unit: 'hour' | 'day',
  days: number[],
  hours: number[],
  live: Range[],
  minus: Range[],
) {
  const scope = visibleTasksSql(who.caller, 't')
  return tx.$queryRaw<SeriesRow[]>`
    SELECT (extract(epoch FROM date_trunc(${unit}, at, 'UTC')) * 1000)::float8 AS ms,
           sum(created)::int AS created,
           coalesce(sum(ended) FILTER (WHERE status = 'finished'), 0)::int AS finished,
           coalesce(sum(ended) FILTER (WHERE status = 'failed'), 0)::int AS failed
    FROM (
      SELECT bucket AS at, status, created, ended FROM stats_rollup
      WHERE grain = 'day' AND bucket = ANY(${timestamps(days)}) AND scope = ${who.scope}
      UNION ALL
      SELECT bucket, status, created, ended FROM stats_rollup
      WHERE grain = 'hour' AND bucket = ANY(${timestamps(hours)}) AND scope = ${who.scope}
      UNION ALL
      SELECT d.bucket, d.status, d.created, d.ended FROM stats_rollup_deltas d
      WHERE ${pendingDeltas(who, hours, days)}
      UNION ALL
      SELECT t.created_at, t.status, 1, 0
      FROM tasks t
      WHERE ${scope} AND ${inRanges('t.created_at', live)}
      UNION ALL
      SELECT t.finished_at, t.status, 0, 1
      FROM tasks t
      WHERE ${scope} AND ${inRanges('t.finished_at', live)} AND t.status IN ('finished', 'failed')
      UNION ALL
      SELECT t.created_at, t.status, -1, 0
      FROM tasks t
      WHERE ${scope} AND ${inRanges('t.created_at', minus)}
      UNION ALL
      SELECT t.finished_at, t.status, 0, -1
      FROM tasks t
      WHERE ${scope} AND ${inRanges('t.finished_at', minus)} AND t.status IN ('finished', 'failed')
    ) parts
    GROUP BY 1`
}
