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
  handler: (job: PgBoss.Job<T>) => Promise<void>,
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
      // Each job settles on its own, so one failure does not re-run the others.
      const results = await Promise.allSettled(jobs.map((job) => handler(job)))
      const done = jobs.filter((_, i) => results[i]?.status === 'fulfilled').map((job) => job.id)
      const failed = jobs.filter((_, i) => results[i]?.status === 'rejected').map((job) => job.id)
      for (const result of results) {
        if (result.status === 'rejected')
          logger.warn({ err: result.reason, queue: name }, 'job failed; the queue will retry it')
      }
      // If settling fails (database gone), the jobs expire and the queue hands them out again.
      if (done.length)
        await queue
          .complete(name, done)
          .catch((error) => logger.warn({ err: error }, 'could not complete jobs'))
      if (failed.length)
        await queue.fail(name, failed).catch((error) => logger.warn({ err: error }, 'could not fail jobs'))
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
