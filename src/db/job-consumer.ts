import type PgBoss from 'pg-boss'
import type { ServiceLogger } from '../logger.js'
import type { JobQueue, QueueName } from './job-queue.js'

export interface Consumer {
  /** Fetch now instead of at the next interval. */
  wake(): void
  /** Takes no new jobs, and resolves once the batch in hand is handled and settled in the queue. */
  stop(): Promise<void>
}

/**
 * Fetches jobs of one queue and completes or fails them, awaiting every step. pg-boss's
 * own `work()` leaves its completion query running unawaited, which a shutdown can cut off
 * (and crash the process with); owning the loop keeps shutdown exact.
 */
export function consume<T extends object>(
  queue: JobQueue,
  name: QueueName,
  options: { batchSize: number; intervalMs: number },
  handler: (jobs: PgBoss.Job<T>[]) => Promise<void>,
  logger: ServiceLogger,
): Consumer {
  let stopping = false
  let wakeUp: (() => void) | null = null
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      wakeUp = () => {
        clearTimeout(timer)
        resolve()
      }
    }).finally(() => {
      wakeUp = null
    })

  const loop = (async () => {
    while (!stopping) {
      let jobs: PgBoss.Job<T>[] = []
      try {
        jobs = await queue.fetch<T>(name, { batchSize: options.batchSize })
      } catch (error) {
        logger.warn({ err: error, queue: name }, 'could not fetch jobs; retrying')
      }
      if (jobs.length === 0) {
        if (!stopping) await pause(options.intervalMs)
        continue
      }
      const ids = jobs.map((job) => job.id)
      try {
        await handler(jobs)
        await queue.complete(name, ids)
      } catch (error) {
        logger.warn({ err: error, queue: name }, 'job failed; the queue will retry it')
        // If even this fails, the jobs expire and the queue retries them.
        await queue.fail(name, ids).catch(() => {})
      }
    }
  })()

  return {
    wake: () => wakeUp?.(),
    stop: async () => {
      stopping = true
      wakeUp?.()
      await loop
    },
  }
}
