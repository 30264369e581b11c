/**
 * GET /v1/stats answered from the rollup equals the live computation over `tasks`
 * (live-stats.ts, the pre-rollup query) after any mix of creations, transitions and
 * refreshes, for admins and clients, with windows cut mid-hour; changes made after the last
 * refresh, or committed while one runs, count at once; emptied buckets lose their rows.
 */
import t from 'tap'
import type { Test } from 'tap'
import { parseStatsQuery, taskStats } from '../../src/queries/stats.js'
import { refreshStats } from '../../src/stats/refresh.js'
import type { TaskStatus } from '../../src/tasks/status.js'
import { transitionAll } from '../../src/tasks/transitions.js'
import { buildTestApp } from '../helpers/app.js'
import { liveTaskStats, matchesLive as matchesLiveFor, rollupRecountDifferences } from './live-stats.js'
import { createKey, statsCallers, insertTasks, type SeedTask, seededRandom } from './support.js'

const { runtime } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
const prisma = runtime.deps.prisma
const keyA = await createKey(prisma, 'client', 'A')
const keyB = await createKey(prisma, 'client', 'B')
const callers = statsCallers({ A: keyA, B: keyB })

const hour = 3_600_000
const day0 = Date.parse('2026-05-01T00:00:00Z')
const models = ['kling-3.0/pro', 'hailuo-2.3', 'kling-2.1/standard']
const random = seededRandom(20261123)
const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!

/** A task created somewhere in four days, in any status, with the timestamps its status implies. */
function randomTask(): SeedTask {
  const createdAt = new Date(day0 + Math.floor(random() * 4 * 24 * hour))
  const status = pick<TaskStatus>(['queued', 'not_started', 'running', 'finished', 'finished', 'failed'])
  const submittedAt = status === 'queued' ? null : new Date(createdAt.getTime() + 2_000)
  const ended = status === 'finished' || status === 'failed'
  return {
    createdAt,
    model: pick(models),
    status,
    input: { prompt: 'x' },
    apiKeyId: pick([keyA.id, keyB.id, null]),
    submittedAt,
    finishedAt: ended ? new Date(createdAt.getTime() + 5_000 + Math.floor(random() * 3 * hour)) : null,
    credits: status === 'finished' ? Math.floor(random() * 400) / 4 : status === 'failed' ? 0 : null,
  }
}

/** Moves some non-terminal tasks forward, as the callback path does. */
async function advance(count: number) {
  const open = await prisma.task.findMany({
    where: { status: { in: ['queued', 'not_started', 'running'] } },
    take: count,
    orderBy: { id: 'asc' },
  })
  for (const task of open) {
    const to = pick<TaskStatus>(['running', 'finished', 'failed'])
    const finishedAt =
      to === 'running' ? null : new Date(task.createdAt.getTime() + Math.floor(random() * 5 * hour))
    await prisma.task.update({
      where: { id: task.id },
      data: {
        status: to,
        submittedAt: task.submittedAt ?? task.createdAt,
        finishedAt,
        credits: to === 'finished' ? Math.floor(random() * 100) / 2 : null,
      },
    })
  }
}

const iso = (ms: number) => new Date(ms).toISOString()
const windows = [
  { from: iso(day0 + 5 * hour + 17 * 60_000), to: iso(day0 + 2 * 24 * hour + 13 * hour + 3 * 60_000) },
  { from: iso(day0 - 24 * hour), to: iso(day0 + 6 * 24 * hour) },
  { from: iso(day0 + 30 * hour + 1), to: iso(day0 + 30 * hour + 45 * 60_000) },
  { from: iso(day0 + 24 * hour), to: iso(day0 + 3 * 24 * hour) },
  // Edge hours and days mostly inside: read whole, less the small part outside.
  { from: iso(day0 + 20 * 60_000), to: iso(day0 + 3 * 24 * hour + 23 * hour + 55 * 60_000) },
  { from: iso(day0 + 2 * hour + 59 * 60_000), to: iso(day0 + 2 * 24 * hour + 7 * hour + 50 * 60_000) },
  // Asked a minute after it ends, five minutes into an hour: the rest of the hour is future.
  {
    from: iso(day0 + 26 * hour + 30 * 60_000),
    to: iso(day0 + 2 * 24 * hour + 5 * 60_000),
    now: day0 + 2 * 24 * hour + 6 * 60_000,
  },
]

const matchesLive = (t: Test, label: string) => matchesLiveFor(t, prisma, callers, windows, label)

/** Rows waiting in the delta logs (and in the dirty log, which nothing but an upgrade fills). */
const pendingCount = async () =>
  Number(
    (
      await prisma.$queryRaw<{ n: bigint }[]>`
        SELECT (SELECT count(*) FROM stats_rollup_deltas) + (SELECT count(*) FROM stats_duration_deltas)
             + (SELECT count(*) FROM stats_dirty) AS n`
    )[0]!.n,
  )

t.test('the rollup answer equals the live one through creations, transitions and refreshes', async (t) => {
  await insertTasks(prisma, Array.from({ length: 400 }, randomTask))
  await matchesLive(t, 'nothing refreshed (all live)')
  await refreshStats(prisma)
  t.equal(await pendingCount(), 0, 'the refresh drained the delta logs')
  await matchesLive(t, 'refreshed')
  await advance(40)
  await insertTasks(prisma, Array.from({ length: 60 }, randomTask))
  t.ok((await pendingCount()) > 0, 'changes since the refresh are in the delta logs')
  await matchesLive(t, 'changed after the refresh')
  await refreshStats(prisma, { maxDeltas: 5 })
  await advance(30)
  await matchesLive(t, 'refreshed in small batches, then changed again')
  await refreshStats(prisma)
  await matchesLive(t, 'refreshed again')
  t.equal(await rollupRecountDifferences(prisma), 0, 'the folded rollup is what a recount gives')
})

t.test('a change after the refresh is visible at once (its deltas are read with the rollup)', async (t) => {
  await refreshStats(prisma)
  const createdAt = new Date(day0 + 24 * hour + 30 * 60_000)
  const [id] = await insertTasks(prisma, [
    {
      createdAt,
      model: 'solo-model',
      status: 'running',
      input: {},
      apiKeyId: keyA.id,
      submittedAt: createdAt,
    },
  ])
  const window = parseStatsQuery({ from: iso(day0), to: iso(day0 + 4 * 24 * hour) }, new Date())
  const before = await taskStats(prisma, callers.A!, window)
  t.match(
    before.by_model.find((m) => m.model === 'solo-model'),
    { total: 1, by_status: { running: 1 } },
  )
  await refreshStats(prisma)
  await prisma.task.update({
    where: { id: id! },
    data: { status: 'finished', finishedAt: new Date(createdAt.getTime() + 90_000), credits: 7 },
  })
  const after = await taskStats(prisma, callers.A!, window)
  t.match(
    after.by_model.find((m) => m.model === 'solo-model'),
    {
      total: 1,
      by_status: { running: 0, finished: 1 },
      credits: 7,
      p50_seconds: 90,
    },
  )
  t.same(after, await liveTaskStats(prisma, callers.A!, window))
})

t.test('one statement changing many tasks logs every change', async (t) => {
  await refreshStats(prisma)
  const open = await prisma.task.findMany({
    where: { status: { in: ['queued', 'not_started', 'running'] } },
    take: 25,
    orderBy: { id: 'desc' },
  })
  t.ok(open.length > 10, 'there are open tasks to move')
  // The batched status change (src/tasks/transitions.ts): many rows, one UPDATE.
  const moved = await transitionAll(
    prisma,
    open.map((task, index) => ({
      taskId: task.id,
      from: task.status,
      to: index % 3 === 0 ? ('failed' as const) : ('finished' as const),
      at: new Date(),
      source: 'callback' as const,
      data: {
        submittedAt: task.submittedAt ?? task.createdAt,
        finishedAt: new Date(task.createdAt.getTime() + (index + 1) * 47 * 60_000),
        credits: index % 3 === 0 ? 0 : index * 1.5,
      },
    })),
  )
  t.same(
    moved,
    open.map(() => true),
  )
  await matchesLive(t, 'after one many-row statement')
  await refreshStats(prisma)
  await matchesLive(t, 'after one many-row statement, refreshed')
})

t.test('a change committed while a refresh runs is not lost', async (t) => {
  await refreshStats(prisma)
  const createdAt = new Date(day0 + 2 * 24 * hour + 10 * hour)
  const [id] = await insertTasks(prisma, [
    {
      createdAt,
      model: 'race-model',
      status: 'running',
      input: {},
      apiKeyId: keyB.id,
      submittedAt: createdAt,
    },
  ])
  let changed = false
  await refreshStats(prisma, {
    // After the refresh recomputed (without this change) and before it commits.
    beforeCommit: async () => {
      if (changed) return
      changed = true
      await prisma.task.update({
        where: { id: id! },
        data: { status: 'failed', finishedAt: new Date(createdAt.getTime() + 60_000), credits: 0 },
      })
    },
  })
  t.ok(changed, 'the change committed during the refresh')
  t.ok((await pendingCount()) > 0, 'its deltas outlived the refresh')
  const window = parseStatsQuery(
    { from: iso(day0 + 2 * 24 * hour), to: iso(day0 + 3 * 24 * hour) },
    new Date(),
  )
  const stats = await taskStats(prisma, callers.B!, window)
  t.match(
    stats.by_model.find((m) => m.model === 'race-model'),
    { by_status: { running: 0, failed: 1 } },
  )
  t.same(stats, await liveTaskStats(prisma, callers.B!, window))
  await refreshStats(prisma)
  t.equal(await pendingCount(), 0)
  const rows = await prisma.$queryRaw<{ status: string }[]>`
    SELECT status::text AS status FROM stats_rollup WHERE model = 'race-model' AND scope = ${keyB.id} AND created > 0`
  t.same(
    rows.map((row) => row.status),
    ['failed', 'failed'],
    'the next refresh took it in (hour and day rows)',
  )
  t.same(await taskStats(prisma, callers.B!, window), await liveTaskStats(prisma, callers.B!, window))
})

t.test('a bucket that became empty loses its rollup rows', async (t) => {
  const createdAt = new Date('2026-07-04T12:30:00Z')
  const [id] = await insertTasks(prisma, [
    {
      createdAt,
      model: 'lonely',
      status: 'finished',
      input: {},
      submittedAt: createdAt,
      finishedAt: new Date(createdAt.getTime() + 3 * hour),
      credits: 3,
    },
  ])
  await refreshStats(prisma)
  const count = async () => {
    const [row] = await prisma.$queryRaw<{ rollup: bigint; durations: bigint }[]>`
      SELECT (SELECT count(*) FROM stats_rollup WHERE bucket >= '2026-07-04' AND bucket < '2026-07-05') AS rollup,
             (SELECT count(*) FROM stats_durations WHERE bucket >= '2026-07-04' AND bucket < '2026-07-05') AS durations`
    return { rollup: Number(row!.rollup), durations: Number(row!.durations) }
  }
  // Hour of creation, hour of finishing and the day, each for `all` and `none`.
  t.same(await count(), { rollup: 6, durations: 2 })
  await prisma.task.delete({ where: { id: id! } })
  await refreshStats(prisma)
  t.same(await count(), { rollup: 0, durations: 0 })
  const window = parseStatsQuery({ from: '2026-07-04T00:00:00Z', to: '2026-07-05T00:00:00Z' }, new Date())
  t.match(await taskStats(prisma, callers.admin!, window), { total: 0, by_model: [] })
})
