/**
 * Reports that do not move a task (progress within running, duplicates, stale ones) are
 * each one statement: the events they carry in order, and the one change they may make.
 */
import t from 'tap'
import { createPrismaClient, disconnectPrisma } from '../../src/db/client.js'
import { applyProviderReport, type ProviderReport } from '../../src/tasks/apply-report.js'
import type { TaskEventRecord } from '../../src/tasks/transitions.js'
import { createTestDatabase } from '../helpers/database.js'
import { taskFixtures } from '../helpers/tasks.js'

const url = await createTestDatabase(t)
const prisma = createPrismaClient({ url, poolSize: 2 })
t.teardown(() => disconnectPrisma(prisma))
const at = new Date('2026-12-03T12:00:00.000Z')
const deps = { prisma, clock: { now: () => at } }
const { newTask, timeline } = taskFixtures(prisma, at, 'apply')

const report = (fields: Partial<ProviderReport>): ProviderReport => ({
  taskId: 'poyo-1',
  status: 'running',
  progress: 0,
  files: [],
  errorMessage: null,
  creditsAmount: null,
  ...fields,
})
const received: TaskEventRecord = { type: 'callback', source: 'callback', payload: { body: { n: 1 } } }

t.test('progress within running is raised, with the event it carries; a lower one is stale', async (t) => {
  const task = await newTask({ status: 'running', progress: 10, providerTaskId: 'poyo-1' })
  t.equal(
    await applyProviderReport(deps, task.id, report({ progress: 40 }), 'callback', { firstRecord: received }),
    'progress',
  )
  let row = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
  t.equal(row.progress, 40)
  t.same(row.updatedAt, at)
  t.equal(await applyProviderReport(deps, task.id, report({ progress: 30 }), 'poller'), 'stale')
  row = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
  t.equal(row.progress, 40, 'never lowered')
  const events = await timeline(task.id)
  t.same(
    events.map((e) => [e.type, e.source]),
    [
      ['callback', 'callback'],
      ['ignored_update', 'poller'],
    ],
  )
  t.same(events[0]?.payload, { body: { n: 1 } })
  t.same(events[0]?.createdAt, at)
  t.match(events[1]?.payload, { verdict: 'stale', current: 'running', reported: 'running', progress: 30 })
})

t.test(
  'a duplicate records the event it carries, then why it changed nothing, and adopts a missing id',
  async (t) => {
    const task = await newTask({ status: 'failed', providerTaskId: null, errorCode: 'provider_failed' })
    const failed = report({ status: 'failed', taskId: 'poyo-late' })
    t.equal(
      await applyProviderReport(deps, task.id, failed, 'callback', { firstRecord: received }),
      'duplicate',
    )
    const row = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
    t.equal(row.providerTaskId, 'poyo-late', "PoYo's id is adopted")
    t.equal(row.status, 'failed')
    const events = await timeline(task.id)
    t.same(
      events.map((e) => e.type),
      ['callback', 'ignored_update'],
      'in that order',
    )
    t.match(events[1]?.payload, { verdict: 'duplicate', current: 'failed', reported: 'failed' })
  },
)

t.test('an id the task already has is kept', async (t) => {
  const task = await newTask({ status: 'finished', progress: 100, providerTaskId: 'poyo-own' })
  const finished = report({ status: 'finished', progress: 100, taskId: 'poyo-other' })
  t.equal(await applyProviderReport(deps, task.id, finished, 'poller'), 'duplicate')
  const row = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
  t.equal(row.providerTaskId, 'poyo-own')
  t.same(
    (await timeline(task.id)).map((e) => e.type),
    ['ignored_update'],
  )
})

t.test('progress for a task no longer running is judged again against what it now is', async (t) => {
  const task = await newTask({ status: 'finished', progress: 100, providerTaskId: 'poyo-4' })
  // The caller read it while it was still running: the raise finds nothing to raise.
  const staleRead = { ...task, status: 'running' as const, progress: 10 }
  t.equal(
    await applyProviderReport(deps, task.id, report({ taskId: 'poyo-4', progress: 50 }), 'poller', {
      justRead: staleRead,
    }),
    'stale',
  )
  const row = await prisma.task.findUniqueOrThrow({ where: { id: task.id } })
  t.equal(row.progress, 100)
})
