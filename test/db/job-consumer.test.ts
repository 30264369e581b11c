/**
 * The job consumer on a real pg-boss queue: a slow job holds up only its own slot, no more
 * than `concurrency` jobs run at once, failures go back to the queue, and stop() waits for
 * the jobs in hand and settles them.
 */
import pino from 'pino'
import t, { type Test } from 'tap'
import { withPgClient } from '../../src/db/admin.js'
import { type Consumer, consume } from '../../src/db/job-consumer.js'
import { type JobQueue, Queues, startJobQueue } from '../../src/db/job-queue.js'
import { createTestDatabase } from '../helpers/database.js'
import { sleep, waitFor } from '../helpers/wait.js'

const logger = pino({ level: 'silent' })
type Data = { n: number }

/** A gate a handler can wait on until the test opens it. */
function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { open, opened }
}

async function startQueue(t: Test): Promise<{ queue: JobQueue; url: string }> {
  const url = await createTestDatabase(t)
  const queue = await startJobQueue(url, logger)
  t.teardown(() => queue.stop({ graceful: false, wait: true }))
  return { queue, url }
}

const send = async (queue: JobQueue, n: number) => {
  const id = await queue.send(Queues.submit, { n })
  if (!id) throw new Error('job not created')
  return id
}

const jobState = (url: string, id: string) =>
  withPgClient(url, async (client) => {
    const { rows } = await client.query<{ state: string }>('SELECT state FROM pgboss.job WHERE id = $1', [id])
    return rows[0]?.state
  })

function start(
  t: Test,
  queue: JobQueue,
  concurrency: number,
  handler: (data: Data) => Promise<void>,
): Consumer {
  const consumer = consume<Data>(
    queue,
    Queues.submit,
    { concurrency, intervalMs: 100 },
    (job) => handler(job.data),
    logger,
  )
  t.teardown(() => consumer.stop())
  return consumer
}

t.test('a slow job holds up only its own slot: the others keep being fetched and completed', async (t) => {
  const { queue, url } = await startQueue(t)
  const slow = gate()
  // Registered before the consumer's stop, so a failing test does not leave stop waiting.
  t.teardown(slow.open)
  const handled: number[] = []
  const slowId = await send(queue, 0)
  const fastIds: string[] = []
  for (let n = 1; n <= 5; n++) fastIds.push(await send(queue, n))
  start(t, queue, 2, async ({ n }) => {
    if (n === 0) await slow.opened
    handled.push(n)
  })
  // With two slots and job 0 stuck in one, jobs 1–5 pass through the other one by one.
  await waitFor(() => handled.length === 5, { what: 'the five fast jobs' })
  t.same([...handled].sort(), [1, 2, 3, 4, 5])
  for (const id of fastIds) t.equal(await jobState(url, id), 'completed')
  t.equal(await jobState(url, slowId), 'active', 'the slow job is still running')
  slow.open()
  await waitFor(async () => (await jobState(url, slowId)) === 'completed', { what: 'the slow job completed' })
})

t.test('never more than `concurrency` jobs run at once', async (t) => {
  const { queue, url } = await startQueue(t)
  const ids: string[] = []
  for (let n = 0; n < 12; n++) ids.push(await send(queue, n))
  let running = 0
  let most = 0
  start(t, queue, 3, async () => {
    running++
    most = Math.max(most, running)
    await sleep(20)
    running--
  })
  await waitFor(
    async () => {
      for (const id of ids) if ((await jobState(url, id)) !== 'completed') return false
      return true
    },
    { what: 'all twelve jobs completed' },
  )
  t.equal(most, 3)
})

t.test('a failing job goes back to the queue to be retried; the others complete', async (t) => {
  const { queue, url } = await startQueue(t)
  const bad = await send(queue, 1)
  const good = await send(queue, 2)
  start(t, queue, 4, async ({ n }) => {
    if (n === 1) throw new Error('the database went away')
  })
  await waitFor(async () => (await jobState(url, good)) === 'completed', { what: 'the good job completed' })
  // The submit queue retries a failed job later (retryLimit 20, with backoff).
  const badState = await waitFor(async () => {
    const state = await jobState(url, bad)
    return state !== 'created' && state !== 'active' && state
  })
  t.equal(badState, 'retry')
})

t.test('a wake makes an idle consumer fetch at once, not at its next interval', async (t) => {
  const { queue } = await startQueue(t)
  const handledAt: number[] = []
  const consumer = consume<Data>(
    queue,
    Queues.submit,
    { concurrency: 2, intervalMs: 60_000 },
    async () => {
      handledAt.push(Date.now())
    },
    logger,
  )
  t.teardown(() => consumer.stop())
  // Let the first (empty) fetch happen, so only a wake or the 60 s interval can find the job.
  await sleep(300)
  await send(queue, 1)
  const woken = Date.now()
  consumer.wake()
  await waitFor(() => handledAt.length === 1, { what: 'the job handled after the wake' })
  t.ok(handledAt[0]! - woken < 5_000, 'handled well before the interval')
})

t.test(
  'wakes soon after a fetch are gathered: a burst of jobs is fetched together, a lone one at once',
  async (t) => {
    const { queue } = await startQueue(t)
    const fetched: number[] = []
    const fetch = queue.fetch.bind(queue)
    queue.fetch = (async (...args: Parameters<typeof fetch>) => {
      const jobs = await fetch(...args)
      fetched.push(jobs?.length ?? 0)
      return jobs
    }) as typeof queue.fetch
    const handledAt: number[] = []
    const consumer = consume<Data>(
      queue,
      Queues.submit,
      { concurrency: 8, intervalMs: 60_000, wakeGapMs: 1_000 },
      async () => {
        handledAt.push(Date.now())
      },
      logger,
    )
    t.teardown(() => consumer.stop())
    // The first (empty) fetch at start, then more than the gap: the next wake fetches at once.
    await waitFor(() => fetched.length === 1, { what: 'the first fetch' })
    await sleep(1_100)
    await send(queue, 1)
    const lone = Date.now()
    consumer.wake()
    await waitFor(() => handledAt.length === 1, { what: 'the lone job' })
    t.ok(
      handledAt[0]! - lone < 500,
      `a wake long after the last fetch fetches at once (${handledAt[0]! - lone} ms)`,
    )
    // Three jobs, each with its wake, within the gap of that fetch: one fetch takes them all.
    for (let n = 2; n <= 4; n++) {
      await send(queue, n)
      consumer.wake()
    }
    await waitFor(() => handledAt.length === 4, { what: 'the burst' })
    t.same(fetched, [0, 1, 3], 'the burst came in one fetch')
  },
)

t.test('stop() takes no new jobs, waits for the jobs in hand and settles them', async (t) => {
  const { queue, url } = await startQueue(t)
  const slow = gate()
  t.teardown(slow.open)
  let started = 0
  const first = await send(queue, 1)
  const consumer = consume<Data>(
    queue,
    Queues.submit,
    { concurrency: 1, intervalMs: 100 },
    async () => {
      started++
      await slow.opened
    },
    logger,
  )
  t.teardown(() => consumer.stop())
  await waitFor(() => started === 1, { what: 'the first job started' })
  const stopped = consumer.stop()
  const later = await send(queue, 2)
  let stopResolved = false
  void stopped.then(() => {
    stopResolved = true
  })
  await sleep(200)
  t.notOk(stopResolved, 'stop waits for the job in hand')
  slow.open()
  await stopped
  t.equal(await jobState(url, first), 'completed', 'the job in hand was completed before stop resolved')
  t.equal(await jobState(url, later), 'created', 'no job was taken after stop')
  t.equal(started, 1)
})
