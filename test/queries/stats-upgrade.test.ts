/**
 * Upgrading a database that already holds tasks to the stats rollup: the migration marks
 * every hour with tasks dirty, so stats are right at once (counted live) and after the
 * first refresh (from the rollup). And upgrading a rollup kept by dirty hours to the delta
 * logs: hours still dirty are recounted, changes made since are folded, exact throughout.
 */
import t from 'tap'
import type { PrismaClient } from '../../src/db/client.js'
import { applyMigrations } from '../../src/db/migrations.js'
import { parseStatsQuery, taskStats } from '../../src/queries/stats.js'
import { durationBinSql, durationSecondsSql, hasDurationSql } from '../../src/stats/histogram.js'
import { refreshStats } from '../../src/stats/refresh.js'
import { transitionAll } from '../../src/tasks/transitions.js'
import { Prisma } from '../../src/generated/prisma/client.js'
import { databaseBefore } from '../helpers/database.js'
import { liveTaskStats, matchesLive, rollupRecountDifferences } from './live-stats.js'
import { createKey, statsCallers, insertTasks, type SeedTask } from './support.js'

const firstRollupMigration = '20261123182215_stats_rollup'
const deltasMigration = '20261207010000_stats_deltas'

t.test('tasks stored before the rollup existed are counted', async (t) => {
  const { url, prisma } = await databaseBefore(t, firstRollupMigration)
  const created = Date.parse('2026-03-10T08:20:00Z')
  await insertTasks(prisma, [
    { model: 'hailuo-2.3', status: 'queued', createdAt: new Date(created), input: { prompt: 'a' } },
    {
      model: 'hailuo-2.3',
      status: 'finished',
      createdAt: new Date(created + 3_600_000),
      submittedAt: new Date(created + 3_602_000),
      finishedAt: new Date(created + 3 * 3_600_000),
      credits: 25,
      input: { prompt: 'b' },
    },
    {
      model: 'kling-2.1/pro',
      status: 'failed',
      createdAt: new Date(created + 86_400_000),
      input: { prompt: 'c' },
    },
  ])
  await applyMigrations(url)

  const admin = { role: 'admin' as const, apiKeyId: null, scope: 'admin' }
  const window = parseStatsQuery(
    { from: '2026-03-01T00:00:00Z', to: '2026-03-20T00:00:00Z', bucket: 'day' },
    new Date('2026-11-23T00:00:00Z'),
  )
  const live = await liveTaskStats(prisma, admin, window)
  t.equal(live.total, 3, 'the fixture is seen by the live count')
  t.same(await taskStats(prisma, admin, window), live, 'right before the first refresh')
  t.ok((await refreshStats(prisma)).hours > 0, 'the refresh takes in the old hours')
  t.same(await taskStats(prisma, admin, window), live, 'and after it')
})

/**
 * What the refresh before the delta logs left after a full run: every hour and day counted
 * from `tasks`, the dirty log drained (its hour rows, day rows as their sums, day histograms).
 */
async function refreshAsBeforeDeltas(prisma: PrismaClient) {
  const scope = (alias: string) =>
    Prisma.raw(
      `CASE WHEN grouping(${alias}.api_key_id) = 1 THEN 'all' ELSE coalesce(${alias}.api_key_id::text, 'none') END`,
    )
  await prisma.$executeRaw`DELETE FROM stats_rollup`
  await prisma.$executeRaw`DELETE FROM stats_durations`
  await prisma.$executeRaw`
    WITH facts AS (
      SELECT date_trunc('hour', t.created_at, 'UTC') AS bucket, t.api_key_id, t.model, t.status,
             1 AS created, t.credits::numeric AS credits, 0 AS ended
      FROM tasks t
      UNION ALL
      SELECT date_trunc('hour', t.finished_at, 'UTC'), t.api_key_id, t.model, t.status, 0, NULL, 1
      FROM tasks t WHERE t.status IN ('finished', 'failed') AND t.finished_at IS NOT NULL
    ), hours AS (
      SELECT f.bucket, ${scope('f')} AS scope, f.model, f.status, sum(f.created)::int AS created,
             coalesce(sum(f.credits), 0) AS credits, sum(f.ended)::int AS ended
      FROM facts f
      GROUP BY GROUPING SETS ((f.bucket, f.api_key_id, f.model, f.status), (f.bucket, f.model, f.status))
    )
    INSERT INTO stats_rollup (grain, bucket, scope, model, status, created, credits, ended)
    SELECT 'hour'::"StatsGrain", bucket, scope, model, status, created, credits, ended FROM hours
    UNION ALL
    SELECT 'day', date_trunc('day', bucket, 'UTC'), scope, model, status, sum(created), sum(credits), sum(ended)
    FROM hours GROUP BY 2, 3, 4, 5`
  await prisma.$executeRaw`
    INSERT INTO stats_durations (bucket, scope, model, bin, tasks, min_seconds, max_seconds)
    SELECT d.day, ${scope('d')}, d.model, d.bin, count(*), min(d.seconds), max(d.seconds)
    FROM (SELECT date_trunc('day', created_at, 'UTC') AS day, api_key_id, model, ${durationBinSql} AS bin,
                 ${durationSecondsSql} AS seconds
          FROM tasks WHERE ${hasDurationSql}) d
    GROUP BY GROUPING SETS ((d.day, d.api_key_id, d.model, d.bin), (d.day, d.model, d.bin))`
  await prisma.$executeRaw`DELETE FROM stats_dirty`
}

t.test('a rollup kept by dirty hours upgrades to deltas exactly, its pending hours too', async (t) => {
  const { url, prisma } = await databaseBefore(t, deltasMigration)
  const keyA = await createKey(prisma, 'client', 'A')
  const callers = statsCallers({ A: keyA })
  const hour = 3_600_000
  const day0 = Date.parse('2026-11-02T00:00:00Z')
  const task = (i: number): SeedTask => {
    const createdAt = new Date(day0 + ((i * 7) % 40) * hour + (i % 60) * 60_000)
    const status = (['queued', 'running', 'finished', 'failed'] as const)[i % 4]!
    const ended = status === 'finished' || status === 'failed'
    return {
      createdAt,
      model: ['hailuo-2.3', 'kling-3.0/pro'][i % 2]!,
      status,
      input: {},
      apiKeyId: i % 3 === 0 ? null : keyA.id,
      submittedAt: status === 'queued' ? null : new Date(createdAt.getTime() + 3_000),
      finishedAt: ended ? new Date(createdAt.getTime() + 60_000 + i * 41_000) : null,
      credits: status === 'finished' ? i / 4 : null,
    }
  }
  // Refreshed by the code before the deltas, then changed: those hours are dirty again.
  const ids = await insertTasks(
    prisma,
    Array.from({ length: 120 }, (_, i) => task(i)),
  )
  await refreshAsBeforeDeltas(prisma)
  const running = await prisma.task.findMany({ where: { status: 'running' }, take: 12 })
  for (const [i, moved] of running.entries()) {
    await prisma.task.update({
      where: { id: moved.id },
      data: {
        status: 'finished',
        finishedAt: new Date(moved.createdAt.getTime() + (i + 1) * 20 * 60_000),
        credits: i,
      },
    })
  }
  await prisma.task.delete({ where: { id: ids[2]! } })
  await insertTasks(
    prisma,
    Array.from({ length: 20 }, (_, i) => task(200 + i)),
  )
  const dirty = await prisma.$queryRaw<
    { n: number }[]
  >`SELECT count(DISTINCT bucket)::int AS n FROM stats_dirty`
  t.ok(dirty[0]!.n > 5, `the dirty log names ${dirty[0]!.n} hours when the upgrade runs`)

  const applied = await applyMigrations(url)
  t.equal(applied[0], deltasMigration, 'the delta migration is the next to apply (later ones follow it)')
  const windows = [
    { from: new Date(day0 - 24 * hour).toISOString(), to: new Date(day0 + 3 * 24 * hour).toISOString() },
    { from: new Date(day0 + 7 * hour + 1_000).toISOString(), to: new Date(day0 + 30 * hour).toISOString() },
  ]
  await matchesLive(t, prisma, callers, windows, 'upgraded, nothing refreshed')

  // Changes after the upgrade, in dirty hours and clean ones alike: deltas now.
  const open = await prisma.task.findMany({
    where: { status: { in: ['queued', 'running'] } },
    orderBy: { id: 'asc' },
  })
  await transitionAll(
    prisma,
    open.map((moved, i) => ({
      taskId: moved.id,
      from: moved.status,
      to: i % 3 === 0 ? ('failed' as const) : ('finished' as const),
      at: new Date(moved.createdAt.getTime() + (i + 2) * 13 * 60_000),
      source: 'callback' as const,
      data: {
        submittedAt: moved.submittedAt ?? new Date(moved.createdAt.getTime() + 1_000),
        finishedAt: new Date(moved.createdAt.getTime() + (i + 2) * 13 * 60_000),
        credits: i % 3 === 0 ? 0 : i + 0.25,
      },
    })),
  )
  await insertTasks(
    prisma,
    Array.from({ length: 10 }, (_, i) => task(300 + i)),
  )
  await matchesLive(t, prisma, callers, windows, 'upgraded, changed since')

  // Small batches: some hours are recounted while deltas of their days are folded.
  const result = await refreshStats(prisma, { maxHours: 3, maxDeltas: 7 })
  t.equal(result.hours, dirty[0]!.n, 'every hour the dirty log named was recounted')
  const left = await prisma.$queryRaw<{ n: number }[]>`
    SELECT ((SELECT count(*) FROM stats_dirty) + (SELECT count(*) FROM stats_rollup_deltas)
            + (SELECT count(*) FROM stats_duration_deltas))::int AS n`
  t.equal(left[0]!.n, 0, 'the dirty log and the delta logs are drained')
  await matchesLive(t, prisma, callers, windows, 'upgraded and refreshed')
  t.equal(await rollupRecountDifferences(prisma), 0, 'the rollup is what a recount gives')
})
