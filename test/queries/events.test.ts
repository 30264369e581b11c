/**
 * GET /v1/tasks/{id}/events: a task submitted through the API to the in-process PoYo
 * simulator, called back on the app's own port, and its timeline as recorded.
 */
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'
import { waitFor } from '../helpers/wait.js'
import { createKey, freePort } from './support.js'

const port = await freePort()
const { app, runtime } = await buildTestApp(t, {
  PUBLIC_URL: `http://127.0.0.1:${port}`,
  SIMULATOR_RUN_MS: '300',
  POLL_SWEEP_INTERVAL_MS: '200',
})
await app.listen({ host: '127.0.0.1', port })
const prisma = runtime.deps.prisma
const admin = await createKey(prisma, 'admin')
const owner = await createKey(prisma, 'client', 'owner')
const stranger = await createKey(prisma, 'client', 'stranger')

const created = await app.inject({
  method: 'POST',
  url: '/v1/tasks',
  headers: owner.headers,
  payload: { model: 'kling-3.0/standard', input: { prompt: 'A lighthouse in a storm', duration: 5 } },
})
const taskId = created.json().id as string
await waitFor(async () => (await prisma.task.findUnique({ where: { id: taskId } }))?.status === 'finished', {
  timeoutMs: 15_000,
  what: 'the task to finish',
})

t.test('the timeline, oldest first, exactly as stored', async (t) => {
  t.equal(created.statusCode, 202, created.body)
  const response = await app.inject({ url: `/v1/tasks/${taskId}/events`, headers: owner.headers })
  t.equal(response.statusCode, 200)
  const events = response.json().data as Record<string, unknown>[]
  const stored = await prisma.taskEvent.findMany({ where: { taskId }, orderBy: { id: 'asc' } })
  t.same(
    events.map((event) => event.id),
    stored.map((event) => event.id.toString()),
    'every event, in id order',
  )
  t.same(
    events.map((event) => [event.type, event.source, event.from_status, event.to_status]),
    stored.map((event) => [event.type, event.source, event.fromStatus, event.toStatus]),
  )
  t.same(events[0], {
    id: stored[0]?.id.toString(),
    type: 'created',
    source: 'api',
    from_status: null,
    to_status: 'queued',
    payload: {},
    created_at: stored[0]?.createdAt.toISOString(),
  })
  const times = events.map((event) => Date.parse(event.created_at as string))
  t.same(
    times,
    [...times].sort((a, b) => a - b),
    'oldest first',
  )
  const types = new Set(events.map((event) => event.type))
  t.ok(types.has('submit_attempt'), 'the submit attempt is there')
  t.ok(types.has('callback') || types.has('poll'), `PoYo's answer is there (${[...types]})`)
  const changes = events.filter((event) => event.type === 'status_changed')
  t.equal(changes[0]?.from_status, 'queued')
  t.equal(changes.at(-1)?.to_status, 'finished')
  for (const [i, change] of changes.entries())
    if (i > 0)
      t.equal(change.from_status, changes[i - 1]?.to_status, 'each change starts where the last ended')
})

t.test('only callers who may see the task see its timeline', async (t) => {
  const asAdmin = await app.inject({ url: `/v1/tasks/${taskId}/events`, headers: admin.headers })
  t.equal(asAdmin.statusCode, 200, 'an admin sees every task')
  t.ok(asAdmin.json().data.length >= 4)
  const hidden = await app.inject({ url: `/v1/tasks/${taskId}/events`, headers: stranger.headers })
  t.equal(hidden.statusCode, 404, "another client's task does not exist for it")
  t.match(hidden.json(), { status: 404, code: 'TASK_NOT_FOUND' })
  const unknown = await app.inject({
    url: '/v1/tasks/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/events',
    headers: admin.headers,
  })
  t.equal(unknown.statusCode, 404)
  const malformed = await app.inject({ url: '/v1/tasks/nope/events', headers: admin.headers })
  t.equal(malformed.statusCode, 400)
  t.match(malformed.json().errors, [{ parameter: 'id' }])
  const anonymous = await app.inject({
    url: `/v1/tasks/${taskId}/events`,
    headers: { authorization: undefined },
  })
  t.equal(anonymous.statusCode, 401, 'no key, no timeline')
})
