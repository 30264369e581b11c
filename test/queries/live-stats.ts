/**
 * The pre-rollup GET /v1/stats computation, kept verbatim as the tests' oracle: four
 * aggregate queries straight over `tasks`. The rollup's answer must equal this one (the
 * percentiles within the histogram's bound). Also: the rollup's rows against a recount.
 */
import type { Test } from 'tap'
import type { PrismaClient } from '../../src/db/client.js'
import { Prisma } from '../../src/generated/prisma/client.js'
import { parseStatsQuery, type StatsWindow, taskStats } from '../../src/queries/stats.js'
import { visibleTasksSql } from '../../src/queries/scope.js'
import { relativeErrorBound } from '../../src/stats/histogram.js'
import { refreshStats } from '../../src/stats/refresh.js'
import { type Caller, visibleTasks } from '../../src/tasks/caller.js'
import { TaskStatus } from '../../src/tasks/status.js'

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

interface DurationRow {
  model: string
  p50: number | null
  p95: number | null
}

interface SeriesRow {
  start: string
  created: number
  finished: number
  failed: number
}

/** Submit-to-finish durations per model (seconds), over finished tasks created in the window. */
function durationsSql(caller: Caller, window: StatsWindow) {
  const seconds = Prisma.sql`extract(epoch FROM finished_at - submitted_at)::float8`
  return Prisma.sql`
    SELECT model,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY ${seconds}) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY ${seconds}) AS p95
    FROM tasks
    WHERE ${visibleTasksSql(caller)}
      AND created_at >= ${window.from.toISOString()}::timestamptz
      AND created_at < ${window.to.toISOString()}::timestamptz
      AND status = 'finished' AND submitted_at IS NOT NULL AND finished_at IS NOT NULL
    GROUP BY model`
}

/**
 * One row per bucket (UTC), empty ones included: tasks created in it, and tasks that
 * ended (finished or failed) in it. Buckets at the window's edges count only what falls inside.
 */
function seriesSql(caller: Caller, window: StatsWindow) {
  const from = Prisma.sql`${window.from.toISOString()}::timestamptz`
  const to = Prisma.sql`${window.to.toISOString()}::timestamptz`
  const unit = window.bucket
  const scope = visibleTasksSql(caller)
  return Prisma.sql`
    WITH buckets AS (
      SELECT generate_series(
        date_trunc(${unit}, ${from} AT TIME ZONE 'UTC'),
        (${to} - interval '1 millisecond') AT TIME ZONE 'UTC',
        ${`1 ${unit}`}::interval
      ) AS start
    ), created AS (
      SELECT date_trunc(${unit}, created_at AT TIME ZONE 'UTC') AS start, count(*)::int AS n
      FROM tasks
      WHERE ${scope} AND created_at >= ${from} AND created_at < ${to}
      GROUP BY 1
    ), ended AS (
      SELECT date_trunc(${unit}, finished_at AT TIME ZONE 'UTC') AS start,
             (count(*) FILTER (WHERE status = 'finished'))::int AS finished,
             (count(*) FILTER (WHERE status = 'failed'))::int AS failed
      FROM tasks
      WHERE ${scope} AND finished_at >= ${from} AND finished_at < ${to} AND status IN ('finished', 'failed')
      GROUP BY 1
    )
    SELECT to_char(b.start, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS start,
           coalesce(c.n, 0) AS created, coalesce(e.finished, 0) AS finished, coalesce(e.failed, 0) AS failed
    FROM buckets b
    LEFT JOIN created c ON c.start = b.start
    LEFT JOIN ended e ON e.start = b.start
    ORDER BY b.start`
}

/** Dashboard aggregates over tasks `caller` may see; see the Stats schema for each field. */
export async function liveTaskStats(prisma: PrismaClient, caller: Caller, window: StatsWindow) {
  const [groups, durations, series] = await Promise.all([
    prisma.task.groupBy({
      by: ['model', 'status'],
      where: { ...visibleTasks(caller), createdAt: { gte: window.from, lt: window.to } },
      _count: { _all: true },
      _sum: { credits: true },
    }),
    prisma.$queryRaw<DurationRow[]>(durationsSql(caller, window)),
    prisma.$queryRaw<SeriesRow[]>(seriesSql(caller, window)),
  ])

  const byStatus = emptyCounts()
  let credits = 0
  const models = new Map<string, { counts: StatusCounts; credits: number }>()
  for (const group of groups) {
    const count = group._count._all
    const spent = group._sum.credits ?? 0
    byStatus[group.status] += count
    credits += spent
    const model = models.get(group.model) ?? { counts: emptyCounts(), credits: 0 }
    model.counts[group.status] += count
    model.credits += spent
    models.set(group.model, model)
  }
  const durationByModel = new Map(durations.map((row) => [row.model, row]))

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
        const duration = durationByModel.get(model)
        return {
          model,
          total: Object.values(counts).reduce((sum, n) => sum + n, 0),
          by_status: counts,
          success_rate: successRate(counts),
          credits: round(spent, 6),
          p50_seconds: duration?.p50 == null ? null : round(duration.p50, 3),
          p95_seconds: duration?.p95 == null ? null : round(duration.p95, 3),
        }
      }),
    series,
  }
}

export interface WindowSpec {
  from: string
  to: string
  /** When it is asked (epoch ms); default: the real now. */
  now?: number
}

/** Rollup answer == live answer for every caller, window and bucket; percentiles within the bound. */
export async function matchesLive(
  t: Test,
  prisma: PrismaClient,
  callers: Record<string, Caller>,
  windows: WindowSpec[],
  label: string,
) {
  for (const [who, caller] of Object.entries(callers)) {
    for (const range of windows) {
      for (const bucket of ['hour', 'day'] as const) {
        const window = parseStatsQuery(
          { from: range.from, to: range.to, bucket },
          new Date(range.now ?? Date.now()),
        )
        const [rollup, live] = [
          await taskStats(prisma, caller, window),
          await liveTaskStats(prisma, caller, window),
        ]
        const strip = (stats: typeof rollup) => ({
          ...stats,
          by_model: stats.by_model.map(({ p50_seconds: _p50, p95_seconds: _p95, ...rest }) => rest),
        })
        const name = `${label}: ${who} ${range.from}…${range.to} by ${bucket}`
        t.same(strip(rollup), strip(live), name)
        for (const [index, model] of live.by_model.entries()) {
          for (const key of ['p50_seconds', 'p95_seconds'] as const) {
            const exact = model[key]
            const estimate = rollup.by_model[index]?.[key] ?? null
            if (exact === null) t.equal(estimate, null, `${name}: ${model.model} ${key}`)
            else
              t.ok(
                estimate !== null && Math.abs(estimate - exact) <= relativeErrorBound * exact + 0.001,
                `${name}: ${model.model} ${key} ${estimate} ≈ ${exact}`,
              )
          }
        }
      }
    }
  }
}

/**
 * Rows of the rollup (both tables) that a recount from `tasks` of every bucket would change,
 * add or remove: 0 when the folded rollup is exactly what counting gives. Refreshes first,
 * then marks every bucket dirty (the hours of all tasks and of all rollup rows) and lets the
 * refresh recount them, comparing the rows before and after.
 */
export async function rollupRecountDifferences(prisma: PrismaClient): Promise<number> {
  await refreshStats(prisma)
  await prisma.$executeRaw`CREATE TABLE folded_rollup AS SELECT * FROM stats_rollup`
  await prisma.$executeRaw`CREATE TABLE folded_durations AS SELECT * FROM stats_durations`
  try {
    await prisma.$executeRaw`
      INSERT INTO stats_dirty (bucket)
      SELECT date_trunc('hour', created_at, 'UTC') FROM tasks
      UNION SELECT date_trunc('hour', finished_at, 'UTC') FROM tasks WHERE finished_at IS NOT NULL
      UNION SELECT bucket FROM stats_rollup
      UNION SELECT bucket FROM stats_durations`
    await refreshStats(prisma)
    const [row] = await prisma.$queryRaw<{ n: number }[]>`
      SELECT ((SELECT count(*) FROM ((SELECT * FROM folded_rollup EXCEPT SELECT * FROM stats_rollup)
                                     UNION ALL (SELECT * FROM stats_rollup EXCEPT SELECT * FROM folded_rollup)) r)
            + (SELECT count(*) FROM ((SELECT * FROM folded_durations EXCEPT SELECT * FROM stats_durations)
                                     UNION ALL (SELECT * FROM stats_durations EXCEPT SELECT * FROM folded_durations)) d))::int AS n`
    return row!.n
  } finally {
    await prisma.$executeRaw`DROP TABLE folded_rollup`
    await prisma.$executeRaw`DROP TABLE folded_durations`
  }
}
