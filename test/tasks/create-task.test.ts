/**
 * createTask writes the submit job, the task and its `created` event in one raw statement:
 * what it returns is the stored task exactly as Prisma reads it, a job that cannot be sent
 * or inserted leaves nothing behind, and an Idempotency-Key race lost at the insert
 * (Postgres 23505 through a raw query) is answered as a replay.
 */
import t from 'tap'
import type { PrismaClient } from '../../src/db/client.js'
import { Queues } from '../../src/db/job-queue.js'
import type { Caller } from '../../src/tasks/caller.js'
import { createTask, type CreateTaskDeps } from '../../src/tasks/create-task.js'
import { buildTestApp } from '../helpers/app.js'

const { runtime } = await buildTestApp(t, { WORKERS_ENABLED: 'false', WEBHOOK_ALLOW_PRIVATE: 'true' })
const { prisma } = runtime.deps
const admin = await prisma.apiKey.findFirstOrThrow()
const caller: Caller = { apiKeyId: admin.id, role: 'admin', scope: admin.id }
const deps: CreateTaskDeps = runtime.deps
const request = (prompt: string) => ({ model: 'hailuo-2.3', input: { prompt } })

const submitJobs = async (taskId: string) =>
  (
    await prisma.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pgboss.job WHERE name = ${Queues.submit} AND data->>'taskId' = ${taskId}`
  )[0]?.n

t.test('returns the stored task as Prisma reads it, with its created event and submit job', async (t) => {
  const { task, created } = await createTask(
    deps,
    caller,
    {
      ...request('every field'),
      metadata: { team: 'video', nested: { n: 1 } },
      webhook_url: 'http://127.0.0.1:9/hook',
      webhook_events: ['running', 'finished'],
    },
    'every-field',
  )
  t.ok(created)
  t.strictSame(task, await prisma.task.findUniqueOrThrow({ where: { id: task.id } }), 'the same Task object')
  t.ok(task.createdAt instanceof Date && task.deadlineAt instanceof Date, 'dates are Dates')
  t.strictSame(task.webhookEvents, ['running', 'finished'], 'the enum array is an array')
  const events = await prisma.taskEvent.findMany({ where: { taskId: task.id } })
  t.match(events, [{ type: 'created', source: 'api', fromStatus: null, toStatus: 'queued' }])
  t.equal(events.length, 1)
  t.equal(events[0]?.createdAt.getTime(), task.createdAt.getTime(), 'the event has the task’s time')
  t.equal(await submitJobs(task.id), 1, 'one submit job')

  const plain = await createTask(deps, caller, request('no extras'))
  t.strictSame(plain.task, await prisma.task.findUniqueOrThrow({ where: { id: plain.task.id } }))
  t.match(plain.task, { metadata: null, webhookUrl: null, webhookEvents: [], idempotencyKey: null })
})

t.test('a job that cannot be sent leaves no task and no event', async (t) => {
  const tasks = await prisma.task.count()
  const events = await prisma.taskEvent.count()
  const failing = {
    ...deps,
    queue: {
      send: async () => {
        throw new Error('the queue is down')
      },
    } as unknown as CreateTaskDeps['queue'],
  }
  await t.rejects(createTask(failing, caller, request('never stored')), /the queue is down/)
  t.equal(await prisma.task.count(), tasks, 'no task')
  t.equal(await prisma.taskEvent.count(), events, 'no event')
})

t.test('an Idempotency-Key race lost at the insert answers with the winner', async (t) => {
  const winner = await createTask(deps, caller, request('raced'), 'raced-key')
  // The loser's lookup ran before the winner committed: it saw nothing and went on to insert.
  let lookups = 0
  const task = new Proxy(prisma.task, {
    get: (target, name) =>
      name === 'findUnique' && lookups++ === 0 ? async () => null : Reflect.get(target, name, target),
  })
  const racing = new Proxy(prisma, {
    get(target, name) {
      if (name === 'task') return task
      const value = Reflect.get(target, name, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  }) as PrismaClient
  const loser = await createTask({ ...deps, prisma: racing }, caller, request('raced'), 'raced-key')
  t.equal(lookups, 2, 'looked up again after the unique violation')
  t.same(loser, { task: winner.task, created: false }, 'a replay of the winner')
  t.equal(await prisma.task.count({ where: { idempotencyKey: 'raced-key' } }), 1)
  t.equal(await submitJobs(winner.task.id), 1, 'one submit job')
})

// Last: it deletes the submit queue of this file's database.
t.test('without its submit queue a task is not stored, and the request fails', async (t) => {
  const tasks = await prisma.task.count()
  const events = await prisma.taskEvent.count()
  await deps.queue.purgeQueue(Queues.submit)
  await deps.queue.deleteQueue(Queues.submit)
  await t.rejects(
    createTask(deps, caller, request('no queue')),
    /the task-submit queue is missing: the task was not stored/,
  )
  t.equal(await prisma.task.count(), tasks, 'no task')
  t.equal(await prisma.taskEvent.count(), events, 'no event')
  const jobs = await prisma.$queryRaw<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM pgboss.job WHERE name = ${Queues.submit}`
  t.equal(jobs[0]?.n, 0, 'no job')
})
