import type { Static } from '@sinclair/typebox'
import type { PrismaClient } from '../db/client.js'
import { Prisma } from '../generated/prisma/client.js'
import type { StatsQuery } from '../schemas/queries.js'
import { percentile } from '../stats/histogram.js'
import {
  bucketStarts,
  ceilTo,
  dayMs,
  floorTo,
  hourMs,
  hoursOfDays,
  planDurations,
  planWindow,
} from '../stats/plan.js'
import { readCounts, readDurations, readSeries, rollupScope, unfoldedBuckets } from '../stats/read.js'
import type { Caller } from '../tasks/caller.js'
import { TaskStatus } from '../tasks/status.js'
import { invalidParameter, parseInstant } from './params.js'

export type Bucket = 'hour' | 'day'

export interface StatsWindow {
  from: Date
  to: Date
  bucket: Bucket
  /** When it was asked for: tasks lie in the past only, which the plan uses (src/stats/plan.ts). */
  now: Date
}

const maxWindowMs = 400 * dayMs
// Hour buckets over longer windows would be thousands of points no chart can show.
const maxHourlyWindowMs = 31 * dayMs

/** The window [from, to): default the last 24 h; at most 400 days; hour buckets up to 31 days. */
export function parseStatsQuery(query: Static<typeof StatsQuery>, now: Date): StatsWindow {
  const to = query.to === undefined ? now : parseInstant('to', query.to)
  const from = query.from === undefined ? new Date(to.getTime() - dayMs) : parseInstant('from', query.from)
  const span = to.getTime() - from.getTime()
  if (span <= 0) throw invalidParameter('from', 'must be earlier than to')
  if (span > maxWindowMs) throw invalidParameter('from', 'the window may span at most 400 days')
  const bucket = query.bucket ?? (span <= 2 * dayMs ? 'hour' : 'day')
  if (bucket === 'hour' && span > maxHourlyWindowMs)
    throw invalidParameter('bucket', 'hour buckets allow a window of at most 31 days: use day')
  return { from, to, bucket, now }
}

type StatusCounts = Record<TaskStatus, number>

function emptyCounts(): StatusCounts {
  return Object.fromEntries(Object.values(TaskStatus).map((status) => [status, 0])) as StatusCounts
}

function successRate(counts: StatusCounts): number | null {
  const ended = counts.finished + counts.failed
  return ended === 0 ? null : counts.finished / ended
}

/** Float sums and interpolated percentiles, without binary noise (0.30000000000000004). */
const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits

/**
 * Dashboard aggregates over tasks `caller` may see; see the Stats schema for each field.
 * Answered from the stats rollup (src/stats/) plus live reads of what it does not cover,
 * all in one snapshot (REPEATABLE READ), so the numbers equal a live count over `tasks`.
 */
export async function taskStats(prisma: PrismaClient, caller: Caller, window: StatsWindow) {
  const from = window.from.getTime()
  const to = window.to.getTime()
  const unitMs = window.bucket === 'hour' ? hourMs : dayMs
  const who = { caller, scope: rollupScope(caller) }
  const { groups, durations, series } = await prisma.$transaction(
    async (tx) => {
      // Each read is small: starting parallel workers would cost more than it saves.
      await tx.$executeRaw`SET LOCAL max_parallel_workers_per_gather = 0`
      // The whole days the window touches: a partial edge day may be read whole, less its outside part.
      const unfolded = await unfoldedBuckets(tx, floorTo(from, dayMs), ceilTo(to, dayMs))
      const now = window.now.getTime()
      const plan = planWindow(from, to, unfolded.hours, now)
      const durationPlan = planDurations(from, to, unfolded.hours, now, unfolded.durationDays)
      const [seriesDays, seriesHours] =
        window.bucket === 'day' ? [plan.days, plan.hours] : [[], [...hoursOfDays(plan.days), ...plan.hours]]
      return {
        groups: await readCounts(tx, who, plan.days, plan.hours, plan.live, plan.minus),
        durations: await readDurations(tx, who, durationPlan.days, durationPlan.live, durationPlan.minus),
        series: await readSeries(tx, who, window.bucket, seriesDays, seriesHours, plan.live, plan.minus),
      }
    },
    { isolationLevel: Prisma.TransactionIsolationLevel.RepeatableRead },
  )

  const byStatus = emptyCounts()
  let credits = 0
  const models = new Map<string, { counts: StatusCounts; credits: number }>()
  for (const group of groups) {
    const status = group.status as TaskStatus
    byStatus[status] += group.tasks
    credits += group.credits
    const model = models.get(group.model) ?? { counts: emptyCounts(), credits: 0 }
    model.counts[status] += group.tasks
    model.credits += group.credits
    models.set(group.model, model)
  }
  const seriesByStart = new Map(series.map((row) => [row.ms, row]))

  return {
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    bucket: window.bucket,
    total: Object.values(byStatus).reduce((sum, n) => sum + n, 0),
    by_status: byStatus,
    success_rate: successRate(byStatus),
    credits: round(credits, 6),
    by_model: [...models.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([model, { counts, credits: spent }]) => {
        const bins = durations.get(model) ?? []
        const p50 = percentile(bins, 0.5)
        const p95 = percentile(bins, 0.95)
        return {
          model,
          total: Object.values(counts).reduce((sum, n) => sum + n, 0),
          by_status: counts,
          success_rate: successRate(counts),
          credits: round(spent, 6),
          p50_seconds: p50 === null ? null : round(p50, 3),
          p95_seconds: p95 === null ? null : round(p95, 3),
        }
      }),
    series: bucketStarts(from, to, unitMs).map((start) => {
      const row = seriesByStart.get(start)
      return {
        start: new Date(start).toISOString(),
        created: row?.created ?? 0,
        finished: row?.finished ?? 0,
        failed: row?.failed ?? 0,
      }
    }),
  }
}
