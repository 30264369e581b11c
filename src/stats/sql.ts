import { Prisma } from '../generated/prisma/client.js'
import { type Range, dayMs, hourMs, mergeRanges } from './plan.js'

/** SQL pieces the rollup's statements share (refresh, fold, recount and the query's reads). */

/** Bucket starts (epoch ms) as a timestamptz[] parameter. */
export const timestamps = (starts: number[]) =>
  Prisma.sql`${starts.map((ms) => new Date(ms).toISOString())}::timestamptz[]`

/** Who a rollup row counts, grouping by `t.api_key_id`: `all` for admins, else the key (`none` without one). */
export const scopeSql = Prisma.sql`CASE WHEN grouping(t.api_key_id) = 1 THEN 'all' ELSE coalesce(t.api_key_id::text, 'none') END`

/** Timestamp columns the stats select ranges of (alias-qualified). */
export type RangeColumn = 't.created_at' | 't.finished_at' | 'd.bucket' | 'h.bucket'

const at = (ms: number) => Prisma.sql`${new Date(ms).toISOString()}::timestamptz`

/**
 * Rows whose `column` is in one of `ranges`, as ORed constant ranges: the planner then scans
 * the index once per range (a join against a relation of ranges was planned as a sequential
 * scan of the whole table).
 */
export function inRanges(column: RangeColumn, ranges: Range[]): Prisma.Sql {
  if (ranges.length === 0) return Prisma.sql`FALSE`
  const col = Prisma.raw(column)
  return Prisma.sql`(${Prisma.join(
    ranges.map((r) => Prisma.sql`(${col} >= ${at(r.from)} AND ${col} < ${at(r.to)})`),
    ' OR ',
  )})`
}

/** The hours `hours` and the days `days` (epoch ms starts) as merged ranges. */
export function bucketRanges(hours: number[], days: number[] = []): Range[] {
  return mergeRanges([
    ...hours.map((from) => ({ from, to: from + hourMs })),
    ...days.map((from) => ({ from, to: from + dayMs })),
  ])
}
