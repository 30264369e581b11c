import type { ServiceLogger } from '../logger.js'
import { type Consumer, consume } from './job-consumer.js'
import type { JobQueue, QueueName } from './job-queue.js'

/**
 * A periodic job on the queue: each run queues the next one `intervalMs` later. The queue's
 * `stately` policy keeps at most one run waiting and one running cluster-wide, so several
 * instances share one chain; it survives restarts because it lives in the queue.
 */
export async function startSweepChain(
  queue: JobQueue,
  name: QueueName,
  intervalMs: number,
  /** One run; it may ask for the next one to wait longer (e.g. PoYo's Retry-After), in ms. */
  run: () => Promise<number | undefined>,
  logger: ServiceLogger,
): Promise<Consumer> {
  let stopping = false
  const queueNext = async (startAfterSeconds: number) => {
    if (stopping) return
    await queue
      .send(name, {}, { singletonKey: name, startAfter: startAfterSeconds })
      .catch((error) => logger.warn({ err: error, queue: name }, 'could not queue the next sweep'))
  }
  const consumer = consume(
    queue,
    name,
    { concurrency: 1, intervalMs: Math.max(100, intervalMs / 4) },
    async () => {
      const started = Date.now()
      let waitMs: number | undefined
      try {
        waitMs = await run()
      } finally {
        // Runs start `intervalMs` apart (a run's own duration counts), unless it asked for more.
        const next = waitMs ?? Math.max(0, intervalMs - (Date.now() - started))
        await queueNext(next / 1000)
      }
    },
    logger,
  )
  await queueNext(0)
  // Re-links the chain if it ever broke (extra sends are dropped by the queue's policy).
  const relink = setInterval(() => void queueNext(intervalMs / 1000), 15_000)
  relink.unref()
  return {
    wake: consumer.wake,
    stop: async () => {
      stopping = true
      clearInterval(relink)
      await consumer.stop()
    },
  }
}
