/**
 * The one-statement status change: the task, its timeline and its webhook message move
 * together; a lost compare-and-set changes nothing; the SQL-built webhook payload is the
 * task resource clients get from the API.
 */
import t from 'tap'
import type { Prisma } from '../../src/generated/prisma/client.js'
import { taskResourceSql, toTaskResource } from '../../src/tasks/resource.js'
import { transition } from '../../src/tasks/transitions.js'
import { buildTestApp } from '../helpers/app.js'
import { taskFixtures } from '../helpers/tasks.js'

const { runtime } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
const prisma = runtime.deps.prisma
const at = new Date('2026-11-23T12:00:00.123Z')

const { newTask, timeline } = taskFixtures(prisma, at, 'task')

t.test('the SQL twin of the task resource equals toTaskResource', async (t) => {
  const variants: Partial<Prisma.TaskUncheckedCreateInput>[] = [
    {},
    {
      status: 'finished',
      metadata: { team: 'ads', nested: { n: 1.5, list: [1, 'two', null] } },
      providerTaskId: 'poyo-1',
      progress: 100,
      files: [{ url: 'https://files.example/v.mp4', type: 'video' }],
      credits: 12.75,
      webhookUrl: 'https://hooks.example/x',
      webhookEvents: ['finished', 'failed'],
      submittedAt: new Date('2026-11-23T11:59:01.001Z'),
      startedAt: new Date('2026-11-23T11:59:30.5Z'),
      finishedAt: new Date('2026-11-23T12:00:00.999Z'),
    },
    {
      status: 'failed',
      errorCode: 'provider_rejected',
      errorMessage: 'Insufficient credits',
      providerErrorCode: 402,
      providerErrorType: 'insufficient_credits_error',
      credits: 0,
    },
    { status: 'failed', errorCode: 'deadline_exceeded', errorMessage: null },
    { errorCode: '', errorMessage: 'an empty code is no error' },
  ]
  for (const [index, fields] of variants.entries()) {
    const task = await newTask(fields)
    const [row] = await prisma.$queryRawUnsafe<{ resource: unknown }[]>(
      `SELECT ${taskResourceSql('t')} AS resource FROM tasks t WHERE t.id = $1::uuid`,
      task.id,
    )
    t.same(row?.resource, toTaskResource(task), `variant ${index}`)
  }
})

t.test('a status change writes the task, its events in order and its webhook message', async (t) => {
  const task = await newTask({
    status: 'running',
    webhookUrl: 'https://hooks.example/y',
    webhookEvents: ['finished'],
  })
  const moved = await transition(prisma, {
    taskId: task.id,
    from: 'running',
    to: 'finished',
    at,
    source: 'callback',
    payload: { progress: 100 },
    data: {
      progress: 100,
      finishedAt: at,
      credits: 30,
      files: [{ url: 'u', type: 'video' }],
      nextPollAt: null,
    },
    before: { type: 'callback', source: 'callback', payload: { body: { status: 'finished' } } },
  })
  t.equal(moved, true)
  const after = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
  t.match(after, { status: 'finished', progress: 100, credits: 30, files: [{ url: 'u', type: 'video' }] })
  t.same(after.finishedAt, at)
  t.same(after.updatedAt, at)
  t.equal(after.nextPollAt, null)
  const events = await timeline(task.id)
  t.same(
    events.map((event) => [event.type, event.fromStatus, event.toStatus]),
    [
      ['callback', null, null],
      ['status_changed', 'running', 'finished'],
    ],
    'the callback comes before the change it caused',
  )
  t.same(events[0]?.payload, { body: { status: 'finished' } })
  const deliveries = await prisma.webhookDelivery.findMany({ where: { taskId: task.id } })
  t.equal(deliveries.length, 1)
  t.match(deliveries[0], { event: 'finished', url: 'https://hooks.example/y', status: 'pending' })
  t.same(deliveries[0]?.payload, toTaskResource(after), 'the message carries the task as changed')
  t.same(deliveries[0]?.nextAttemptAt, at)
})

t.test('a lost compare-and-set changes nothing but records the event it carried', async (t) => {
  const task = await newTask({
    status: 'finished',
    webhookUrl: 'https://hooks.example/z',
    webhookEvents: ['failed'],
  })
  const moved = await transition(prisma, {
    taskId: task.id,
    from: 'running',
    to: 'failed',
    at,
    source: 'poller',
    data: { errorCode: 'provider_failed', errorMessage: 'boom' },
    before: { type: 'poll', source: 'poller', payload: { n: 1 } },
  })
  t.equal(moved, false)
  const after = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
  t.same(after, task, 'the task is untouched')
  t.same(
    (await timeline(task.id)).map((event) => event.type),
    ['poll'],
  )
  t.equal(await prisma.webhookDelivery.count({ where: { taskId: task.id } }), 0)
})

t.test('no message for events the task did not ask for, nor after its receiver answered 410', async (t) => {
  const unsubscribed = await newTask({
    status: 'running',
    webhookUrl: 'https://hooks.example/a',
    webhookEvents: ['failed'],
  })
  await transition(prisma, {
    taskId: unsubscribed.id,
    from: 'running',
    to: 'finished',
    at,
    source: 'system',
    data: {},
  })
  t.equal(await prisma.webhookDelivery.count({ where: { taskId: unsubscribed.id } }), 0)

  const gone = await newTask({
    status: 'not_started',
    webhookUrl: 'https://hooks.example/b',
    webhookEvents: ['running', 'finished'],
  })
  await transition(prisma, {
    taskId: gone.id,
    from: 'not_started',
    to: 'running',
    at,
    source: 'system',
    data: {},
  })
  await prisma.webhookDelivery.updateMany({ where: { taskId: gone.id }, data: { status: 'stopped' } })
  await transition(prisma, {
    taskId: gone.id,
    from: 'running',
    to: 'finished',
    at,
    source: 'system',
    data: {},
  })
  const deliveries = await prisma.webhookDelivery.findMany({ where: { taskId: gone.id } })
  t.same(
    deliveries.map((delivery) => [delivery.event, delivery.status]),
    [['running', 'stopped']],
  )
  t.equal((await prisma.task.findUniqueOrThrow({ where: { id: gone.id } })).status, 'finished')
})

t.test('a failing statement leaves nothing behind', async (t) => {
  const task = await newTask({ status: 'running' })
  const other = await newTask({ status: 'running', providerTaskId: 'taken-id' })
  await t.rejects(
    transition(prisma, {
      taskId: task.id,
      from: 'running',
      to: 'finished',
      at,
      source: 'callback',
      data: { providerTaskId: 'taken-id' },
      before: { type: 'callback', source: 'callback', payload: {} },
    }),
  )
  t.equal((await prisma.task.findUniqueOrThrow({ where: { id: task.id } })).status, 'running')
  t.equal(await prisma.taskEvent.count({ where: { taskId: task.id } }), 0, 'not even the carried event')
  t.ok(other)
})
