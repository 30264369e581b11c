/**
 * GET /v1/stream over real HTTP: live changes, heartbeats, per-key visibility, resuming
 * with Last-Event-ID (exactly the missed changes, none twice, also while changes keep
 * coming), the LISTEN connection being killed, and closing the app with streams open.
 */
import t from 'tap'
import { withPgClient } from '../../src/db/admin.js'
import type { TaskStatus } from '../../src/tasks/status.js'
import { transition } from '../../src/tasks/transitions.js'
import { buildTestApp } from '../helpers/app.js'
import { sleep, waitFor } from '../helpers/wait.js'
import { createKey, insertTasks } from '../queries/support.js'
import { openStream } from './sse-client.js'

const { app, runtime, databaseUrl } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
const base = await app.listen({ host: '127.0.0.1', port: 0 })
const prisma = runtime.deps.prisma
const admin = await createKey(prisma, 'admin')
const clientA = await createKey(prisma, 'client', 'A')
const clientB = await createKey(prisma, 'client', 'B')

const newTask = async (apiKeyId: string | null = null) =>
  (
    await insertTasks(prisma, [
      { model: 'hailuo-2.3', status: 'queued', createdAt: new Date(), input: { prompt: 'p' }, apiKeyId },
    ])
  )[0] as string

const order: TaskStatus[] = ['queued', 'not_started', 'running', 'finished']

/** Moves a task one status forward, as the service does; returns the new event's id. */
async function advance(taskId: string): Promise<string> {
  const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } })
  const to = order[order.indexOf(task.status) + 1] as TaskStatus
  await prisma.$transaction((tx) =>
    transition(tx, { taskId, from: task.status, to, data: {}, source: 'system', at: new Date() }),
  )
  const event = await prisma.taskEvent.findFirstOrThrow({
    where: { taskId, type: 'status_changed', toStatus: to },
  })
  return event.id.toString()
}

const stream = (headers: Record<string, string>, query = '') =>
  openStream(`${base}/v1/stream${query}`, headers)

t.test('a live change arrives with its task and event', async (t) => {
  const taskId = await newTask()
  const sse = await stream(admin.headers)
  t.teardown(() => sse.close())
  t.equal(sse.status, 200)
  t.match(sse.headers['content-type'], /^text\/event-stream/)
  t.equal(sse.headers['cache-control'], 'no-cache')
  t.equal(sse.headers['x-accel-buffering'], 'no')
  await waitFor(() => sse.records.some((record) => record.id !== undefined), { what: 'the start id' })
  const eventId = await advance(taskId)
  await sse.waitForChanges(1)
  const [change] = sse.changes()
  t.equal(change?.id, eventId, 'the SSE id is the task event id')
  t.match(change, {
    task: { id: taskId, status: 'not_started', model: 'hailuo-2.3' },
    event: { id: eventId, type: 'status_changed', from_status: 'queued', to_status: 'not_started' },
  })
  t.equal(sse.records.find((record) => record.data)?.event, 'task')
})

t.test('heartbeats are comment lines, as often as asked', async (t) => {
  const sse = await stream(admin.headers, '?heartbeat=1')
  t.teardown(() => sse.close())
  await waitFor(() => sse.records.filter((record) => record.comments.includes('heartbeat')).length >= 2, {
    timeoutMs: 3500,
    what: 'two heartbeats',
  })
  t.pass('two heartbeats within 3.5 s')
  const invalid = await app.inject({ url: '/v1/stream?heartbeat=0', headers: admin.headers })
  t.equal(invalid.statusCode, 400)
  t.match(invalid.json().errors, [{ parameter: 'heartbeat' }])
})

t.test('a client key sees changes of its own tasks only', async (t) => {
  const [mine, theirs] = [await newTask(clientA.id), await newTask(clientB.id)]
  const asA = await stream(clientA.headers)
  const asAdmin = await stream(admin.headers)
  t.teardown(() => {
    asA.close()
    asAdmin.close()
  })
  await waitFor(() => asA.records.length > 1 && asAdmin.records.length > 1, { what: 'both streams open' })
  await advance(theirs)
  await advance(mine)
  await asA.waitForChanges(1)
  await asAdmin.waitForChanges(2)
  // Changes arrive in commit order: had B's leaked, it would have come first.
  t.same(
    asA.changes().map((change) => change.task.id),
    [mine],
  )
  t.same(
    asAdmin.changes().map((change) => change.task.id),
    [theirs, mine],
  )
})

t.test('resuming with Last-Event-ID replays exactly the missed changes, then live ones', async (t) => {
  const tasks = [await newTask(), await newTask(), await newTask()]
  const first = await stream(admin.headers)
  await waitFor(() => first.records.length > 1, { what: 'the stream to open' })
  const seen = await advance(tasks[0] as string)
  await first.waitForChanges(1)
  first.close()
  await first.ended

  const missed = [
    await advance(tasks[1] as string),
    await advance(tasks[2] as string),
    await advance(tasks[0] as string),
  ]
  const resumed = await stream({ ...admin.headers, 'last-event-id': seen })
  t.teardown(() => resumed.close())
  await resumed.waitForChanges(3)
  t.same(
    resumed.changes().map((change) => change.id),
    missed,
    'the three missed changes, in order',
  )
  const live = await advance(tasks[1] as string)
  await resumed.waitForChanges(4)
  await sleep(200)
  t.same(
    resumed.changes().map((change) => change.id),
    [...missed, live],
    'then the live one, nothing twice',
  )
})

t.test('resuming while changes keep coming: no gap, no duplicate', async (t) => {
  const tasks = await Promise.all(Array.from({ length: 12 }, () => newTask()))
  const start = (await prisma.taskEvent.aggregate({ _max: { id: true } }))._max.id ?? 0n
  await Promise.all(tasks.slice(0, 6).map((id) => advance(id)))
  // A backlog of several replay pages, so changes land while the replay is still reading.
  await prisma.$executeRaw`
    INSERT INTO task_events (task_id, type, source, from_status, to_status)
    SELECT ${tasks[0]}::uuid, 'status_changed', 'system', 'queued', 'queued' FROM generate_series(1, 700)`
  // Reconnect while the other tasks change (three times each), concurrently.
  const churn = Promise.all(
    tasks.map(async (id) => {
      for (let i = 0; i < 3; i++)
        if ((await prisma.task.findUniqueOrThrow({ where: { id } })).status !== 'finished') await advance(id)
    }),
  )
  const resumed = await stream({ ...admin.headers, 'last-event-id': String(start) })
  t.teardown(() => resumed.close())
  await churn
  const expected = (
    await prisma.taskEvent.findMany({
      where: { type: 'status_changed', id: { gt: start } },
      orderBy: { id: 'asc' },
    })
  ).map((event) => event.id.toString())
  await resumed.waitForChanges(expected.length)
  await sleep(200)
  const received = resumed.changes().map((change) => change.id)
  t.equal(new Set(received).size, received.length, 'nothing twice')
  t.same([...received].sort(), [...expected].sort(), `all ${expected.length} changes`)
})

t.test('a stream opened without Last-Event-ID starts with an id to resume from', async (t) => {
  const taskId = await newTask()
  const sse = await stream(admin.headers)
  await waitFor(() => sse.records.find((record) => record.id !== undefined), { what: 'the start id' })
  const marker = sse.records.find((record) => record.id !== undefined)
  t.equal(marker?.data, undefined, 'an id without data: no event')
  sse.close()
  const missed = await advance(taskId)
  const resumed = await stream({ ...admin.headers, 'last-event-id': marker?.id as string })
  t.teardown(() => resumed.close())
  await resumed.waitForChanges(1)
  t.same(
    resumed.changes().map((change) => change.id),
    [missed],
  )
})

t.test('when the LISTEN connection dies, streams end and the hub reconnects', async (t) => {
  const sse = await stream(admin.headers)
  const marker = await waitFor(() => sse.records.find((record) => record.id !== undefined)?.id)
  const killed = await withPgClient(
    databaseUrl,
    async (client) =>
      (
        await client.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'poyo-task-service:listen' AND datname = current_database()`,
        )
      ).rowCount,
  )
  t.equal(killed, 1, 'one LISTEN connection per app')
  await Promise.race([sse.ended, sleep(3000)])
  t.ok(sse.isEnded(), 'the open stream ended, so its client resumes')
  const taskId = await newTask()
  const missed = await advance(taskId)
  const resumed = await stream({ ...admin.headers, 'last-event-id': marker })
  t.teardown(() => resumed.close())
  t.equal(resumed.status, 200, 'a new stream waits for the hub to listen again')
  const live = await advance(taskId)
  await resumed.waitForChanges(2)
  t.same(
    resumed.changes().map((change) => change.id),
    [missed, live],
  )
})

t.test('a client that goes away is let go', async (t) => {
  const openStreams = async () => {
    const metrics = await app.inject({ url: '/metrics', headers: { authorization: undefined } })
    return Number(/^stream_clients (\d+)$/m.exec(metrics.body)?.[1] ?? Number.NaN)
  }
  await waitFor(async () => (await openStreams()) === 0, { what: 'earlier streams to close' })
  const sse = await stream(admin.headers)
  await waitFor(async () => (await openStreams()) === 1, { what: 'the stream to count' })
  sse.close()
  await waitFor(async () => (await openStreams()) === 0, { what: 'the server to notice the client left' })
  t.pass('the server ended the stream when its client disconnected')
})

t.test('bad requests', async (t) => {
  const badId = await app.inject({ url: '/v1/stream', headers: { ...admin.headers, 'last-event-id': 'abc' } })
  t.equal(badId.statusCode, 400)
  t.match(badId.json().errors, [{ parameter: 'last-event-id' }])
  const anonymous = await app.inject({ url: '/v1/stream', headers: { authorization: undefined } })
  t.equal(anonymous.statusCode, 401)
  const token = admin.headers.authorization.slice('Bearer '.length)
  const viaQuery = await stream({}, `?access_token=${encodeURIComponent(token)}`)
  t.equal(viaQuery.status, 200, 'EventSource clients may pass the key as access_token')
  viaQuery.close()
})

t.test('closing the app ends open streams instead of waiting for them', async (t) => {
  const other = await buildTestApp(t, { WORKERS_ENABLED: 'false' }, { databaseUrl })
  const otherBase = await other.app.listen({ host: '127.0.0.1', port: 0 })
  const sse = await openStream(`${otherBase}/v1/stream`, admin.headers)
  await waitFor(() => sse.records.length > 1, { what: 'the stream to open' })
  const started = Date.now()
  await other.app.close()
  await sse.ended
  t.ok(Date.now() - started < 3000, `closed in ${Date.now() - started} ms`)
})
