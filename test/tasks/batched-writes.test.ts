/**
 * Group commit of status changes and state reads: concurrent calls share one statement, and
 * each keeps what it would have alone (its own compare-and-set, its events in order, its
 * webhook message, its own failure).
 */
import { setTimeout } from 'node:timers/promises'
import pg from 'pg'
import t from 'tap'
import { createPrismaClient, disconnectPrisma } from '../../src/db/client.js'
import { registry } from '../../src/metrics.js'
import { toTaskResource } from '../../src/tasks/resource.js'
import { submitTask } from '../../src/tasks/submit-task.js'
import { readTaskState } from '../../src/tasks/task-state.js'
import { type TransitionArgs, transition, transitionAll } from '../../src/tasks/transitions.js'
import { buildTestApp } from '../helpers/app.js'
import { taskFixtures } from '../helpers/tasks.js'
import { insertTasks, type SeedTask } from '../queries/support.js'

const { runtime, databaseUrl } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
const prisma = runtime.deps.prisma
const at = new Date('2026-11-23T12:00:00.123Z')

const { newTask, timeline } = taskFixtures(prisma, at, 'batched')

/** Observations and their sum of the db_batch_size histogram for `kind`. */
async function batchSizes(kind: string): Promise<{ batches: number; calls: number }> {
  const metric = await registry.getSingleMetric('db_batch_size')?.get()
  const values = (metric?.values ?? []) as { metricName?: string; labels: { kind?: string }; value: number }[]
  const value = (name: string) =>
    values.find((v) => v.metricName === name && v.labels.kind === kind)?.value ?? 0
  return { batches: value('db_batch_size_count'), calls: value('db_batch_size_sum') }
}

t.test('concurrent changes of different kinds share statements and each gets its own result', async (t) => {
  const finishing = await Promise.all(
    Array.from({ length: 30 }, () =>
      newTask({ status: 'running', webhookUrl: 'https://hooks.example/f', webhookEvents: ['finished'] }),
    ),
  )
  const starting = await Promise.all(Array.from({ length: 10 }, () => newTask({ status: 'not_started' })))
  const alreadyDone = await Promise.all(Array.from({ length: 10 }, () => newTask({ status: 'finished' })))
  const before = await batchSizes('transition')

  const finish = (id: string): TransitionArgs => ({
    taskId: id,
    from: 'running',
    to: 'finished',
    at,
    source: 'callback',
    payload: { progress: 100 },
    data: { progress: 100, finishedAt: at, files: [{ url: `u-${id}`, type: 'video' }], credits: 12.5 },
    before: { type: 'callback', source: 'callback', payload: { body: { id } } },
  })
  const results = await Promise.all([
    ...finishing.map((task) => transition(prisma, finish(task.id))),
    ...starting.map((task) =>
      transition(prisma, {
        taskId: task.id,
        from: 'not_started',
        to: 'running',
        at,
        source: 'poller',
        data: { progress: 12.6, startedAt: at, nextPollAt: null },
      }),
    ),
    // Stale: these tasks are no longer running, so they must not move (but keep their event).
    ...alreadyDone.map((task) => transition(prisma, { ...finish(task.id), to: 'failed' })),
  ])
  t.same(results, [...Array(40).fill(true), ...Array(10).fill(false)])

  const after = await batchSizes('transition')
  t.equal(after.calls - before.calls, 50, 'every call went through the coalescer')
  t.ok(after.batches - before.batches < 50, `fewer statements (${after.batches - before.batches}) than calls`)

  for (const task of finishing) {
    const row = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
    t.match(row, { status: 'finished', progress: 100, credits: 12.5, files: [{ url: `u-${task.id}` }] })
    t.same(
      (await timeline(task.id)).map((e) => [e.type, e.fromStatus, e.toStatus, e.payload]),
      [
        ['callback', null, null, { body: { id: task.id } }],
        ['status_changed', 'running', 'finished', { progress: 100 }],
      ],
    )
    const [delivery] = await prisma.webhookDelivery.findMany({ where: { taskId: task.id } })
    t.same(delivery?.payload, toTaskResource(row), 'its message carries its own row')
  }
  for (const task of starting) {
    const row = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
    t.match(row, { status: 'running', progress: 13, nextPollAt: null })
    t.same(row.startedAt, at)
    t.same(row.finishedAt, null, 'columns a change does not name are left alone')
  }
  for (const task of alreadyDone) {
    const row = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
    t.same(row, task, 'a lost compare-and-set changes nothing')
    t.same(
      (await timeline(task.id)).map((e) => e.type),
      ['callback'],
    )
  }
})

t.test(
  'two changes of one task never share a statement nor run at once: the second sees the first',
  async (t) => {
    const tasks = await Promise.all(Array.from({ length: 20 }, () => newTask({ status: 'not_started' })))
    const results = await Promise.all(
      tasks.flatMap((task) => [
        transition(prisma, {
          taskId: task.id,
          from: 'not_started',
          to: 'running',
          at,
          source: 'poller',
          data: {},
        }),
        transition(prisma, {
          taskId: task.id,
          from: 'running',
          to: 'finished',
          at,
          source: 'callback',
          data: {},
        }),
      ]),
    )
    t.same(results, Array(40).fill(true), 'each second change found the first one committed')
    for (const task of tasks) {
      t.same(
        (await timeline(task.id)).map((e) => [e.fromStatus, e.toStatus]),
        [
          ['not_started', 'running'],
          ['running', 'finished'],
        ],
      )
    }
  },
)

t.test('a row that fails its statement fails only its own caller', async (t) => {
  await newTask({ status: 'running', providerTaskId: 'batched-taken' })
  const tasks = await Promise.all(Array.from({ length: 8 }, () => newTask({ status: 'running' })))
  const calls = tasks.map((task, index) =>
    transition(prisma, {
      taskId: task.id,
      from: 'running',
      to: 'finished',
      at,
      source: 'callback',
      data: index === 3 ? { providerTaskId: 'batched-taken' } : {},
      before: { type: 'callback', source: 'callback', payload: { index } },
    }),
  )
  const settled = await Promise.allSettled(calls)
  t.same(
    settled.map((s) => s.status),
    tasks.map((_, index) => (index === 3 ? 'rejected' : 'fulfilled')),
  )
  for (const [index, task] of tasks.entries()) {
    const row = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
    t.equal(row.status, index === 3 ? 'running' : 'finished')
    t.equal((await timeline(task.id)).length, index === 3 ? 0 : 2, 'the failed one left nothing behind')
  }
})

t.test('transitionAll applies a batch given directly, rows in order', async (t) => {
  const a = await newTask({ status: 'queued' })
  const b = await newTask({ status: 'queued' })
  const results = await transitionAll(prisma, [
    {
      taskId: a.id,
      from: 'queued',
      to: 'not_started',
      at,
      source: 'submitter',
      data: { providerTaskId: `p-${a.id}`, submittedAt: at, submitInFlightAt: null },
    },
    { taskId: b.id, from: 'running', to: 'finished', at, source: 'callback', data: {} },
  ])
  t.same(results, [true, false])
  t.match(await prisma.task.findUniqueOrThrow({ where: { id: a.id } }), {
    status: 'not_started',
    providerTaskId: `p-${a.id}`,
    submitInFlightAt: null,
  })
})

t.test('concurrent submit attempts share one claim statement, and each task is submitted once', async (t) => {
  const due = new Date(Date.now() + 3_600_000)
  const tasks = await Promise.all(
    Array.from({ length: 12 }, () => newTask({ status: 'queued', deadlineAt: due })),
  )
  const submitsBefore = runtime.simulator!.simulator.overview().submits.total
  const before = await batchSizes('submit_claim')
  const deps = { ...runtime.deps, callbackBaseUrl: null }
  // The first task twice: its second attempt takes turns with the first and finds it claimed.
  const settled = await Promise.allSettled([...tasks, tasks[0]!].map((task) => submitTask(deps, task.id)))
  t.same(
    settled.slice(0, 12).map((s) => s.status),
    Array(12).fill('fulfilled'),
  )
  const second = settled[12]!
  // In flight still (the queue retries it later), or already submitted: either way not sent again.
  if (second.status === 'rejected') t.match(second.reason, { message: /submit attempt is in flight/ })
  const after = await batchSizes('submit_claim')
  t.equal(after.calls - before.calls, 13, 'thirteen claims')
  t.ok(after.batches - before.batches < 13, `in fewer statements (${after.batches - before.batches})`)
  t.equal(
    runtime.simulator!.simulator.overview().submits.total - submitsBefore,
    12,
    'PoYo saw one submit per task',
  )
  for (const task of tasks) {
    const row = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
    t.match(row, { status: 'not_started', submitAttempts: 1, submitInFlightAt: null })
    t.ok(row.providerTaskId, 'submitted, with its PoYo id')
  }
})

t.test('concurrent state reads share a query and each gets its own task', async (t) => {
  const tasks = await Promise.all(
    Array.from({ length: 20 }, (_, i) => newTask({ status: 'running', progress: i, pollAttempts: i })),
  )
  const before = await batchSizes('task_state')
  const unknown = '00000000-0000-7000-8000-000000000000'
  const states = await Promise.all([
    ...tasks.map((task) => readTaskState(prisma, task.id)),
    readTaskState(prisma, unknown),
  ])
  const after = await batchSizes('task_state')
  t.ok(after.batches - before.batches < 21, 'fewer queries than reads')
  t.equal(states.at(-1), null, 'an unknown task reads as null')
  tasks.forEach((task, i) =>
    t.match(states[i], { id: task.id, status: 'running', progress: i, pollAttempts: i }),
  )

  await prisma.task.update({ where: { id: tasks[0]!.id }, data: { status: 'finished' } })
  t.match(
    await readTaskState(prisma, tasks[0]!.id),
    { status: 'finished' },
    'a read sees writes done before it',
  )
})

t.test(
  'batches that share tasks in opposite orders wait for each other instead of deadlocking',
  async (t) => {
    // Two instances' batches can list the same tasks in any order. Holding the second task
    // first makes the order of events certain: `reversed` queues for it, `forward` takes the
    // first task and queues behind `reversed`; once released, locking in list order would
    // have each wait for the other's task, which Postgres fails as a deadlock (40P01).
    const [first, second] = [await newTask({ status: 'running' }), await newTask({ status: 'running' })].sort(
      (a, b) => (a.id < b.id ? -1 : 1),
    )
    const finish = (taskId: string, credits: number): TransitionArgs => ({
      taskId,
      from: 'running',
      to: 'finished',
      at,
      source: 'callback',
      data: { progress: 100, finishedAt: at, credits },
    })
    const holder = new pg.Client({ connectionString: databaseUrl })
    await holder.connect()
    t.teardown(() => holder.end())
    // A table of a realistic size: the planner then looks the batch's tasks up in the batch's
    // order, as it does in production, rather than reading the table's few pages whole.
    const filler: SeedTask = {
      model: 'hailuo-2.3',
      status: 'finished',
      createdAt: at,
      input: { prompt: 'filler' },
    }
    await insertTasks(prisma, Array(20_000).fill(filler))
    await holder.query('ANALYZE tasks')
    const waiting = async (count: number) => {
      for (;;) {
        const { rows } = await holder.query<{ n: number }>(
          'SELECT count(DISTINCT pid)::int AS n FROM pg_locks WHERE NOT granted',
        )
        if (rows[0]!.n >= count) return
        await setTimeout(10)
      }
    }
    await holder.query('BEGIN')
    await holder.query('SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE', [second!.id])
    // Another instance's client: one client's batches queue on its one writer connection.
    const otherInstance = createPrismaClient({ url: databaseUrl, poolSize: 2 })
    t.teardown(() => disconnectPrisma(otherInstance))
    const reversed = transitionAll(prisma, [finish(second!.id, 10), finish(first!.id, 10)])
    await waiting(1)
    const forward = transitionAll(otherInstance, [finish(first!.id, 20), finish(second!.id, 20)])
    await waiting(2)
    await holder.query('COMMIT')

    const outcomes = await Promise.allSettled([reversed, forward])
    t.same(
      outcomes.map((outcome) =>
        outcome.status === 'fulfilled' ? outcome.value : (outcome.reason as Error).message,
      ),
      [
        [true, true],
        [false, false],
      ],
      'the batch first in line moved both tasks; the other found them moved',
    )
    const rows = await prisma.task.findMany({ where: { id: { in: [first!.id, second!.id] } } })
    t.same(
      rows.map((row) => [row.status, row.credits]),
      [
        ['finished', 10],
        ['finished', 10],
      ],
    )
  },
)
