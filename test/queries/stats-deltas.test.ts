/**
 * The incremental rollup: the triggers on `tasks` log deltas, the refresh folds them. Exact
 * through concurrent batched status changes (the service's own statement) while refreshes
 * run; the fold reads no task, whatever the size of the hour it changes; a removed duration
 * (which a histogram's min and max cannot give back) falls back to an exact recount.
 */
import t from 'tap'
import { createPrismaClient, disconnectPrisma } from '../../src/db/client.js'
import { parseStatsQuery, taskStats } from '../../src/queries/stats.js'
import { durationBinSql, durationSecondsSql, hasDurationSql } from '../../src/stats/histogram.js'
import { refreshStats } from '../../src/stats/refresh.js'
import type { TaskStatus } from '../../src/tasks/status.js'
import { type TransitionArgs, transitionAll } from '../../src/tasks/transitions.js'
import { buildTestApp } from '../helpers/app.js'
import { liveTaskStats, matchesLive, rollupRecountDifferences } from './live-stats.js'
import { createKey, statsCallers, insertTasks, type SeedTask, seededRandom } from './support.js'

const { runtime, databaseUrl } = await buildTestApp(t, { WORKERS_ENABLED: 'false', DATABASE_POOL_SIZE: '8' })
const prisma = runtime.deps.prisma
const keyA = await createKey(prisma, 'client', 'A')
const keyB = await createKey(prisma, 'client', 'B')
const callers = statsCallers({ A: keyA })
const hour = 3_600_000
const iso = (ms: number) => new Date(ms).toISOString()
const random = seededRandom(20261207)
const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!

const pending = async () => {
  const [row] = await prisma.$queryRaw<{ rollup: number; durations: number }[]>`
    SELECT (SELECT count(*) FROM stats_rollup_deltas)::int AS rollup,
           (SELECT count(*) FROM stats_duration_deltas)::int AS durations`
  return row!
}

/** One step of the lifecycle for each task, as the callback path moves them (at: minutes after creation). */
function steps(tasks: { id: string; createdAt: Date }[], from: TaskStatus, to: TaskStatus): TransitionArgs[] {
  return tasks.map((task) => {
    const at = new Date(task.createdAt.getTime() + Math.floor(random() * 3 * hour))
    const final = to === 'finished' || to === 'failed'
    return {
      taskId: task.id,
      from,
      to,
      at,
      source: 'callback' as const,
      data: final
        ? { finishedAt: at, credits: to === 'finished' ? Math.floor(random() * 400) / 4 : 0, progress: 100 }
        : to === 'not_started'
          ? { submittedAt: new Date(task.createdAt.getTime() + 1_500 + Math.floor(random() * 5_000)) }
          : { startedAt: at, progress: 5 },
    }
  })
}

t.test('exact after many concurrent batched transitions, with refreshes running meanwhile', async (t) => {
  const day0 = Date.parse('2026-06-01T00:00:00Z')
  const seeds: SeedTask[] = Array.from({ length: 480 }, () => ({
    createdAt: new Date(day0 + Math.floor(random() * 30 * hour)),
    model: pick(['kling-3.0/pro', 'hailuo-2.3', 'kling-2.1/standard']),
    status: 'queued',
    input: { prompt: 'x' },
    apiKeyId: pick([keyA.id, keyB.id, null]),
  }))
  const ids = await insertTasks(prisma, seeds)
  await refreshStats(prisma)
  const tasks = ids.map((id, i) => ({ id, createdAt: seeds[i]!.createdAt }))

  // Four writers, each moving its share in batches of 16 through the whole lifecycle; a
  // fifth moves tasks the others also move (its compare-and-sets mostly lose), and a
  // refresher folds throughout.
  let writing = true
  let folds = 0
  const refresher = (async () => {
    while (writing) {
      await refreshStats(prisma, {
        // Small batches, of varying size: some refreshes take all there is, some leave the rest.
        maxDeltas: 20 + Math.floor(random() * 1000),
        beforeCommit: async () => {
          folds++
        },
      })
    }
  })()
  // The fifth writer's batches share tasks with the others'. Batches lock their tasks in id
  // order when Postgres joins them to the table by a nested loop over the batch, its plan for
  // any table past a few pages (test/tasks/batched-writes.test.ts holds that). With these 480
  // tasks it may scan the table and lock in table order, so two batches can deadlock:
  // Postgres fails one, changing nothing, and the service runs a failed batch again (row by
  // row, see transitions.ts); so does this writer.
  const apply = async (changes: ReturnType<typeof steps>) => {
    for (;;) {
      try {
        return await transitionAll(prisma, changes)
      } catch (error) {
        if ((error as { code?: string }).code !== '40P01') throw error
      }
    }
  }
  const writer = async (share: typeof tasks) => {
    for (let i = 0; i < share.length; i += 16) {
      const batch = share.slice(i, i + 16)
      await apply(steps(batch, 'queued', 'not_started'))
      await apply(steps(batch, 'not_started', 'running'))
      const ends = steps(batch, 'running', 'finished')
      for (const [j, end] of ends.entries())
        if (j % 4 === 0) Object.assign(end, steps([batch[j]!], 'running', 'failed')[0])
      await apply(ends)
    }
  }
  const shares = [0, 1, 2, 3].map((w) => tasks.filter((_, i) => i % 4 === w).slice(0, 112))
  await Promise.all([...shares.map(writer), writer(tasks.filter((_, i) => i % 7 === 0))])
  writing = false
  await refresher
  t.ok(folds > 3, `refreshes folded during the writes (${folds} transactions)`)

  const windows = [
    { from: iso(day0), to: iso(day0 + 3 * 24 * hour) },
    { from: iso(day0 + 3 * hour + 20 * 60_000), to: iso(day0 + 29 * hour + 10 * 60_000) },
  ]
  await matchesLive(t, prisma, callers, windows, 'deltas pending')
  t.equal(await rollupRecountDifferences(prisma), 0, 'the folded rollup is what a recount gives, row for row')
  t.same(await pending(), { rollup: 0, durations: 0 }, 'the logs are drained')
  await matchesLive(t, prisma, callers, windows, 'all folded')
})

t.test('a change that moves no counted column logs nothing', async (t) => {
  const createdAt = new Date('2026-06-10T10:00:00Z')
  const [id] = await insertTasks(prisma, [
    { createdAt, model: 'quiet', status: 'running', input: {}, submittedAt: createdAt },
  ])
  await refreshStats(prisma)
  await prisma.task.update({ where: { id: id! }, data: { progress: 40, nextPollAt: new Date() } })
  t.same(await pending(), { rollup: 0, durations: 0 })
})

/**
 * What one refresh transaction read and wrote, per table: its own statistics, read before it
 * commits, on a connection of its own (a backend's pending statistics include its earlier
 * transactions until they are flushed).
 */
async function refreshReads() {
  let reads: Record<string, { seq: number; idx: number; fetched: number; written: number }> = {}
  const own = createPrismaClient({ url: databaseUrl, poolSize: 1 })
  t.teardown(() => disconnectPrisma(own))
  const result = await refreshStats(own, {
    beforeCommit: async (tx) => {
      const rows = await tx.$queryRaw<
        { relname: string; seq: number; idx: number; fetched: number; written: number }[]
      >`
        SELECT relname, seq_scan::int AS seq, coalesce(idx_scan, 0)::int AS idx,
               (seq_tup_read + coalesce(idx_tup_fetch, 0))::int AS fetched,
               (n_tup_ins + n_tup_upd + n_tup_del)::int AS written
        FROM pg_stat_xact_user_tables
        WHERE relname IN ('tasks', 'stats_rollup', 'stats_durations', 'stats_rollup_deltas', 'stats_duration_deltas')`
      reads = Object.fromEntries(rows.map(({ relname, ...row }) => [relname, row]))
    },
  })
  return { result, reads }
}

t.test('the fold reads no task: its cost follows the changes, not the size of the hour', async (t) => {
  const busy = Date.parse('2026-08-03T14:00:00Z')
  const quiet = Date.parse('2026-08-05T09:00:00Z')
  // 20,000 finished tasks in the busy hour, 40 queued in the quiet one (and 40 more in another).
  await prisma.$executeRaw`
    INSERT INTO tasks (id, model, status, input, client_scope, estimated_credits, deadline_at, created_at, updated_at,
                       api_key_id, submitted_at, finished_at, credits)
    SELECT gen_random_uuid(), (ARRAY['kling-3.0/pro', 'hailuo-2.3'])[1 + i % 2], 'finished', '{}', 'x', 10, now(),
           b.at, now(), CASE WHEN i % 3 = 0 THEN ${keyA.id}::uuid END, b.at, b.at + interval '90 s', 1
    FROM generate_series(1, 20000) AS i,
      LATERAL (SELECT ${iso(busy)}::timestamptz + make_interval(secs => (i % 3000)::float8) AS at) b`
  const small = (start: number) =>
    Array.from({ length: 40 }, (_, i): SeedTask => ({
      createdAt: new Date(start + i * 60_000),
      model: ['kling-3.0/pro', 'hailuo-2.3'][i % 2]!,
      status: 'queued',
      input: {},
      apiKeyId: i % 3 === 0 ? keyA.id : null,
    }))
  await insertTasks(prisma, small(quiet))
  await insertTasks(prisma, small(quiet + 3 * hour))

  // The same 32 of 40 tasks (keys, models, minutes) move in either hour: the same deltas.
  const movedInBusy = (await insertTasks(prisma, small(busy))).slice(0, 32)
  const movedInQuiet = (
    await prisma.task.findMany({
      where: { createdAt: { gte: new Date(quiet), lt: new Date(quiet + hour) } },
      orderBy: { createdAt: 'asc' },
      take: 32,
    })
  ).map((task) => task.id)
  await prisma.$executeRaw`VACUUM (ANALYZE) tasks`
  await refreshStats(prisma)

  /** The tasks move to running, then to finished or failed, in two batches of 16; then one refresh. */
  async function moveAndRefresh(ids: string[]) {
    const tasks = await prisma.task.findMany({ where: { id: { in: ids } }, orderBy: { createdAt: 'asc' } })
    for (const batch of [tasks.slice(0, 16), tasks.slice(16)]) {
      const at = (task: (typeof batch)[number], minutes: number) =>
        new Date(task.createdAt.getTime() + minutes * 60_000)
      await transitionAll(
        prisma,
        batch.map((task) => ({
          taskId: task.id,
          from: 'queued' as const,
          to: 'running' as const,
          at: at(task, 5),
          source: 'callback' as const,
          data: { submittedAt: at(task, 1), startedAt: at(task, 5) },
        })),
      )
      await transitionAll(
        prisma,
        batch.map((task, i) => ({
          taskId: task.id,
          from: 'running' as const,
          to: i % 5 === 0 ? ('failed' as const) : ('finished' as const),
          at: at(task, 20 + i),
          source: 'callback' as const,
          data: { finishedAt: at(task, 20 + i), credits: i % 5 === 0 ? 0 : i * 2.5 },
        })),
      )
    }
    return refreshReads()
  }
  const inBusy = await moveAndRefresh(movedInBusy)
  const inQuiet = await moveAndRefresh(movedInQuiet)
  for (const [label, { result, reads }] of [
    ['busy hour', inBusy],
    ['quiet hour', inQuiet],
  ] as const) {
    t.ok(result.deltas > 0, `${label}: the refresh folded ${result.deltas} deltas`)
    t.same([result.hours, result.days], [0, 0], `${label}: nothing to recount`)
    const { seq, idx, fetched } = reads.tasks ?? { seq: 0, idx: 0, fetched: 0 }
    t.same({ seq, idx, fetched }, { seq: 0, idx: 0, fetched: 0 }, `${label}: the refresh read no task`)
    t.equal(reads.stats_rollup?.seq, 0, `${label}: rollup rows are found by key, not by a scan`)
  }
  t.equal(inBusy.result.deltas, inQuiet.result.deltas, 'the same changes make as many deltas in either hour')
  t.equal(
    inBusy.reads.stats_rollup?.written,
    inQuiet.reads.stats_rollup?.written,
    'and the same rollup writes',
  )

  // The fallback recounts with one index range per hour: two separate dirty hours, 80 tasks
  // among 20,120, are not a scan of the table (a join to a relation of hours was planned as
  // one: by finished_at, 0.6 s at a million tasks).
  await prisma.$executeRaw`
    INSERT INTO stats_dirty (bucket) VALUES (${iso(quiet)}::timestamptz), (${iso(quiet + 3 * hour)}::timestamptz)`
  const recount = await refreshReads()
  t.same([recount.result.hours, recount.result.days], [2, 1], 'two hours and their day recounted')
  t.ok(recount.reads.tasks, 'the recount read tasks')
  t.equal(recount.reads.tasks?.seq, 0, 'through the indexes, not a sequential scan')
  t.ok((recount.reads.tasks?.fetched ?? 0) < 1000, `it fetched ${recount.reads.tasks?.fetched} rows`)

  const window = { from: iso(busy - 2 * hour), to: iso(quiet + 6 * hour) }
  await matchesLive(t, prisma, callers, [window], 'after the busy hour')
})

t.test('a removed duration falls back to an exact recount of its day', async (t) => {
  const day = Date.parse('2026-09-14T00:00:00Z')
  const created = day + 5 * hour
  // Three durations in one bin (100 s to 100.6 s: the bin is 2.2% wide) and one elsewhere.
  const finished = (seconds: number, apiKeyId: string | null = keyA.id): SeedTask => ({
    createdAt: new Date(created),
    model: 'timed',
    status: 'finished',
    input: {},
    apiKeyId,
    submittedAt: new Date(created),
    finishedAt: new Date(created + seconds * 1000),
    credits: 1,
  })
  const [, , widest, , gone] = await insertTasks(prisma, [
    finished(100),
    finished(100.3),
    finished(100.6),
    finished(400, null),
    finished(100.5, null),
  ])
  await refreshStats(prisma)
  const bin = async () => {
    const rows = await prisma.$queryRaw<{ tasks: number; min: number; max: number }[]>`
      SELECT tasks, min_seconds AS min, max_seconds AS max FROM stats_durations
      WHERE bucket = ${iso(day)}::timestamptz AND scope = 'all' AND model = 'timed' AND bin = (
        SELECT ${durationBinSql} FROM (SELECT 'finished' AS status, ${iso(created)}::timestamptz AS submitted_at,
                                              ${iso(created + 100_000)}::timestamptz AS finished_at) d)`
    return rows[0]
  }
  t.same(await bin(), { tasks: 4, min: 100, max: 100.6 }, 'the bin holds four durations')

  // The widest one moves to another bin, another one is deleted: min and max must shrink.
  await prisma.task.update({
    where: { id: widest! },
    data: { finishedAt: new Date(created + 250_000) },
  })
  await prisma.task.delete({ where: { id: gone! } })
  const removals = await prisma.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM stats_duration_deltas WHERE removed > 0`
  t.ok(removals[0]!.n > 0, 'the removals are logged as such')
  const window = parseStatsQuery(
    { from: iso(day), to: iso(day + 24 * hour), bucket: 'day' },
    new Date(day + 30 * 24 * hour),
  )
  for (const [who, caller] of Object.entries(callers)) {
    // p50 and p95 exactly as live: each bin involved holds at most two durations once the
    // widest is gone, so the histogram is exact (src/stats/histogram.ts) only if its min and max are.
    t.same(
      await taskStats(prisma, caller, window),
      await liveTaskStats(prisma, caller, window),
      `${who}, pending`,
    )
  }
  const { days } = await refreshStats(prisma)
  t.equal(days, 1, 'the refresh recounted the day')
  t.same(await bin(), { tasks: 2, min: 100, max: 100.3 }, 'the bin has its exact min and max again')
  for (const [who, caller] of Object.entries(callers))
    t.same(
      await taskStats(prisma, caller, window),
      await liveTaskStats(prisma, caller, window),
      `${who}, folded`,
    )
  t.equal(await rollupRecountDifferences(prisma), 0, 'the rollup is what a recount gives')
})

t.test('the triggers compute durations with the expressions the recount and the query use', async (t) => {
  const functions = await prisma.$queryRaw<{ name: string; source: string }[]>`
    SELECT proname AS name, prosrc AS source FROM pg_proc WHERE proname LIKE 'stats\\_deltas\\_%\\_manual'`
  t.same(functions.map((f) => f.name).sort(), [
    'stats_deltas_deleted_manual',
    'stats_deltas_inserted_manual',
    'stats_deltas_updated_manual',
  ])
  for (const { name, source } of functions) {
    for (const [label, expression] of Object.entries({ durationBinSql, durationSecondsSql, hasDurationSql }))
      t.ok(source.includes(expression.sql), `${name} uses ${label}: ${expression.sql}`)
  }
})
