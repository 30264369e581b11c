import type PgBoss from 'pg-boss'
import type { ServiceLogger } from '../logger.js'
import type { JobQueue, QueueName } from './job-queue.js'

export interface Consumer {
  /** Fetch now instead of at the next interval. */
  wake(): void
  /** Takes no new jobs, and resolves once the jobs in hand are handled and settled in the queue. */
  stop(): Promise<void>
}

export interface ConsumeOptions {
  /** Jobs handled at once. */
  concurrency: number
  /** How long an idle consumer waits before looking for jobs again (a wake cuts it short). */
  intervalMs: number
  /**
   * A wake this soon after the last fetch waits for the rest of it (0: fetch at once), so
   * the jobs a burst of requests creates are fetched, run and settled together.
   */
  wakeGapMs?: number
}

/**
 * Handles jobs of one queue, up to `concurrency` at a time, and completes or fails each in
 * the queue once its handler settles. A sliding window: freed slots are refilled while
 * the other jobs still run, so one slow job (a PoYo call that takes its full timeout) holds
 * up only its own slot, where pg-boss's `work()` waits for its whole batch before fetching
 * again. Fetches wait until half the slots are free (or a wake, or the interval), so under
 * load they still take jobs in batches. Every step is awaited, which pg-boss's `work()`
 * does not do for its completions, so a shutdown ends exactly.
 */
export function consume<T extends object>(
  queue: JobQueue,
  name: QueueName,
  options: ConsumeOptions,
  handler: (job: PgBoss.Job<T>) => Promise<void>,
  logger: ServiceLogger,
): Consumer {
  const { concurrency, intervalMs, wakeGapMs = 0 } = options
  const refillAt = Math.ceil(concurrency / 2)
  const inHand = new Set<Promise<void>>()
  const done: string[] = []
  const failed: string[] = []
  let stopping = false
  // A wake (or the interval) since the last fetch: look even if few slots are free.
  let asked = false
  // The last fetch found fewer jobs than it asked for.
  let queueEmpty = false
  let lastFetchAt = 0
  let nudge: (() => void) | null = null
  let settling: Promise<void> | null = null

  /** Until a job settles, a wake, or `ms` (never, when null). */
  const waitForChange = (ms: number | null) =>
    new Promise<void>((resolve) => {
      const timer = ms === null ? undefined : setTimeout(resolve, ms)
      nudge = () => {
        clearTimeout(timer)
        resolve()
      }
    }).finally(() => {
      nudge = null
    })

  // One completion (and one failure) statement at a time; jobs that settle meanwhile share the next.
  const settle = (): Promise<void> => {
    settling ??= (async () => {
      while (done.length || failed.length) {
        const completing = done.splice(0)
        const failing = failed.splice(0)
        // If settling fails (database gone), the jobs expire and the queue hands them out again.
        if (completing.length)
          await queue
            .complete(name, completing)
            .catch((error) => logger.warn({ err: error, queue: name }, 'could not complete jobs'))
        if (failing.length)
          await queue
            .fail(name, failing)
            .catch((error) => logger.warn({ err: error, queue: name }, 'could not fail jobs'))
      }
    })().finally(() => {
      settling = null
    })
    return settling
  }
  const unsettled = () => settling !== null || done.length > 0 || failed.length > 0

  const start = (job: PgBoss.Job<T>) => {
    const run: Promise<void> = Promise.resolve()
      .then(() => handler(job))
      .then(
        () => {
          done.push(job.id)
        },
        (error: unknown) => {
          logger.warn({ err: error, queue: name }, 'job failed; the queue will retry it')
          failed.push(job.id)
        },
      )
      .finally(() => {
        inHand.delete(run)
        void settle()
        nudge?.()
      })
    inHand.add(run)
  }

  const loop = (async () => {
    while (!stopping) {
      const free = concurrency - inHand.size
      const sinceFetch = Date.now() - lastFetchAt
      const due = sinceFetch >= intervalMs
      if (free >= refillAt && (asked || due || !queueEmpty)) {
        // Only a wake waits out the gap: a backlog (the last fetch came back full) is taken at once.
        if (!due && queueEmpty && sinceFetch < wakeGapMs) {
          await waitForChange(wakeGapMs - sinceFetch)
          continue
        }
        asked = false
        // Jobs that ended are settled before new ones are taken: a stately queue allows
        // only one active job, and the queue's counts stay true.
        while (unsettled()) await settle()
        let jobs: PgBoss.Job<T>[] = []
        try {
          jobs = await queue.fetch<T>(name, { batchSize: free })
        } catch (error) {
          logger.warn({ err: error, queue: name }, 'could not fetch jobs; retrying')
        }
        lastFetchAt = Date.now()
        queueEmpty = jobs.length < free
        for (const job of jobs) start(job)
        continue
      }
      // With too few slots free only a settling job (or stop) matters; otherwise also the interval.
      await waitForChange(free >= refillAt ? Math.max(1, lastFetchAt + intervalMs - Date.now()) : null)
    }
  })()

  return {
    wake: () => {
      asked = true
      nudge?.()
    },
    stop: async () => {
      stopping = true
      nudge?.()
      await loop
      while (inHand.size > 0) await Promise.all([...inHand])
      while (unsettled()) await settle()
    },
  }
}
