/**
 * The live feed behind GET /v1/stream, on the app's real LISTEN connection: the status
 * changes of one statement (a batch of callbacks) are read together, not one read each;
 * changes notified during a read wait for it and are read together, in commit order; a
 * feed that falls too far behind ends its streams (they resume from the database).
 */
import t from 'tap'
import { loadChanges, type StreamChange, toTaskEventResource } from '../../src/queries/events.js'
import { parseChangeNotification, taskChangesChannel } from '../../src/stream/channel.js'
import { createTaskFeed, type TaskFeedOptions } from '../../src/stream/feed.js'
import { toTaskResource } from '../../src/tasks/resource.js'
import { transitionAll } from '../../src/tasks/transitions.js'
import { buildTestApp } from '../helpers/app.js'
import { waitFor } from '../helpers/wait.js'
import { insertTasks } from '../queries/support.js'

const { app, runtime } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
await app.ready()
const prisma = runtime.deps.prisma
const hub = app.listenHub
t.ok(await hub.whenListening(5_000), 'the LISTEN connection is up')

// Every notification on the channel, kept beside the feeds under test.
const notifications: string[] = []
let announced = 0
hub.subscribe(taskChangesChannel, {
  notify: (payload) => {
    notifications.push(payload)
    announced += parseChangeNotification(payload)?.length ?? 0
  },
  reset: () => {},
})

const queuedTasks = (count: number) =>
  insertTasks(
    prisma,
    Array.from({ length: count }, () => ({
      model: 'hailuo-2.3',
      status: 'queued' as const,
      createdAt: new Date(),
      input: { prompt: 'p' },
    })),
  )

/** Moves `taskIds` from queued to not_started in one statement; returns their event ids in order. */
async function submitAll(taskIds: string[]): Promise<string[]> {
  const at = new Date()
  const before = announced
  await transitionAll(
    prisma,
    taskIds.map((taskId) => ({ taskId, from: 'queued', to: 'not_started', data: {}, source: 'system', at })),
  )
  await waitFor(() => announced >= before + taskIds.length, { what: 'the notifications' })
  const events = await prisma.taskEvent.findMany({
    where: { taskId: { in: taskIds }, type: 'status_changed' },
    orderBy: { id: 'asc' },
  })
  return events.map((event) => event.id.toString())
}

/** A feed whose reads are recorded (and can be held back), with one subscriber collecting its changes. */
function watchedFeed(options: TaskFeedOptions = {}) {
  const reads: number[] = []
  let hold: Promise<void> | null = null
  const feed = createTaskFeed(hub, prisma, app.log, {
    ...options,
    load: async (eventIds) => {
      reads.push(eventIds.length)
      if (hold) await hold
      return loadChanges(prisma, eventIds)
    },
  })
  const changes: StreamChange[] = []
  let resets = 0
  const unsubscribe = feed.subscribe({ change: (row) => changes.push(row), reset: () => resets++ })
  return {
    feed,
    reads,
    changes,
    ids: () => changes.map((row) => row.id.toString()),
    resets: () => resets,
    holdReads() {
      let release = () => {}
      hold = new Promise<void>((resolve) => (release = resolve))
      return () => {
        hold = null
        release()
      }
    },
    unsubscribe,
  }
}

t.test("one statement's changes are read together and arrive in commit order", async (t) => {
  const watched = watchedFeed()
  t.teardown(watched.unsubscribe)
  const eventIds = await submitAll(await queuedTasks(40))
  await waitFor(() => watched.changes.length >= 40, { what: 'the 40 changes' })
  t.same(watched.ids(), eventIds, 'every change once, in the order of the statement')
  t.ok(watched.reads.length <= 4, `40 changes in ${watched.reads.length} reads, not one each`)
  t.equal(
    watched.reads.reduce((sum, n) => sum + n, 0),
    40,
  )
})

t.test('a statement is one notification of its event ids, 200 at most each, in id order', async (t) => {
  const before = notifications.length
  const eventIds = await submitAll(await queuedTasks(450))
  const sent = notifications.slice(before).map((payload) => parseChangeNotification(payload)?.map(String))
  t.same(
    sent.map((ids) => ids?.length),
    [200, 200, 50],
    'three notifications',
  )
  t.same(sent.flat(), eventIds, 'every id once, in id order')

  // Events that are not status changes announce nothing.
  const [taskId] = await queuedTasks(1)
  const quiet = notifications.length
  await prisma.taskEvent.create({ data: { taskId: taskId as string, type: 'callback', source: 'callback' } })
  const [next] = await submitAll([taskId as string])
  t.same(
    notifications.slice(quiet).map((payload) => parseChangeNotification(payload)?.map(String)),
    [[next]],
    'only the status change was announced',
  )
  t.equal(parseChangeNotification('{"event_id":"1"}'), undefined, 'the old payload is not read as one')
})

t.test('a change reads as its task and event resources, as the task routes return them', async (t) => {
  const [taskId] = await queuedTasks(1)
  const at = new Date('2026-12-07T21:30:00.123Z')
  await transitionAll(prisma, [
    {
      taskId: taskId as string,
      from: 'queued',
      to: 'failed',
      data: { errorCode: 'provider_error', errorMessage: 'no "quotes" spared', credits: 2.5, finishedAt: at },
      source: 'system',
      payload: { reason: 'a test', nested: { n: 1.5, list: [1, null] } },
      at,
    },
  ])
  const event = await prisma.taskEvent.findFirstOrThrow({ where: { taskId, type: 'status_changed' } })
  const task = await prisma.task.findUniqueOrThrow({ where: { id: taskId } })
  const [change, ...others] = await loadChanges(prisma, [event.id, 999_999_999n])
  t.equal(others.length, 0, 'an id without a change is left out')
  t.equal(change?.id, event.id)
  t.equal(change?.apiKeyId, task.apiKeyId)
  t.strictSame(JSON.parse(change?.data ?? '{}'), {
    task: JSON.parse(JSON.stringify(toTaskResource(task))),
    event: JSON.parse(JSON.stringify(toTaskEventResource(event))),
  })
})

t.test('changes notified during a read are read together after it, in commit order', async (t) => {
  const watched = watchedFeed()
  t.teardown(watched.unsubscribe)
  const release = watched.holdReads()
  const first = await submitAll(await queuedTasks(10))
  await waitFor(() => watched.reads.length === 1, { what: 'the first read' })
  const second = await submitAll(await queuedTasks(5))
  const third = await submitAll(await queuedTasks(5))
  t.same(watched.reads, [10], 'nothing else is read while the first read runs')
  release()
  await waitFor(() => watched.changes.length >= 20, { what: 'the 20 changes' })
  t.same(watched.reads, [10, 10], 'the two later statements in one read')
  t.same(watched.ids(), [...first, ...second, ...third])
})

t.test('a feed that falls behind ends its streams; a read begun before that delivers nothing', async (t) => {
  const reads: number[] = []
  let release = () => {}
  const held = new Promise<void>((resolve) => (release = resolve))
  const feed = createTaskFeed(hub, prisma, app.log, {
    maxWaiting: 5,
    load: async (eventIds) => {
      reads.push(eventIds.length)
      if (reads.length === 1) await held
      return loadChanges(prisma, eventIds)
    },
  })
  // As a stream does: told to start over, it ends (and its client resumes from the database).
  const reset: string[] = []
  const unsubscribeReset = feed.subscribe({
    change: (row) => reset.push(row.id.toString()),
    reset: () => unsubscribeReset(),
  })
  const heldIds = await submitAll(await queuedTasks(3))
  await waitFor(() => reads.length === 1, { what: 'the first read' })
  // Ten more (one notification) would make more than five wait: the feed is too far behind.
  await submitAll(await queuedTasks(10))

  const later: string[] = []
  const unsubscribe = feed.subscribe({ change: (row) => later.push(row.id.toString()), reset: () => {} })
  t.teardown(unsubscribe)
  release()
  const [next] = await submitAll(await queuedTasks(1))
  await waitFor(() => later.includes(next as string), { what: 'the next change' })
  t.same(reset, [], 'the stream that was told to start over got nothing more')
  t.notOk(
    later.some((id) => heldIds.includes(id)),
    'the read begun before the reset delivered nothing',
  )
  t.same(later, [next], 'a stream opened afterwards gets what is notified after it opened')
})

t.test('a failed read ends the streams; later changes are read again', async (t) => {
  let fail = true
  const feed = createTaskFeed(hub, prisma, app.log, {
    load: async (eventIds) => {
      if (fail) {
        fail = false
        throw new Error('the database went away')
      }
      return loadChanges(prisma, eventIds)
    },
  })
  const changes: StreamChange[] = []
  let resets = 0
  const unsubscribe = feed.subscribe({ change: (row) => changes.push(row), reset: () => resets++ })
  t.teardown(unsubscribe)
  await submitAll(await queuedTasks(3))
  await waitFor(() => resets === 1, { what: 'the reset' })
  t.equal(changes.length, 0)
  const [eventId] = await submitAll(await queuedTasks(1))
  await waitFor(() => changes.length >= 1, { what: 'the next change' })
  t.same(
    changes.map((row) => row.id.toString()),
    [eventId],
  )
})
