import type PgBoss from 'pg-boss'
import type { Config } from '../config.js'
import { Queues } from '../db/job-queue.js'
import { runPollSweep } from './poll-sweep.js'
import { type SubmitDeps, submitTask } from './submit-task.js'

export interface Workers {
  /** Wake the submit worker now instead of at its next poll. */
  wakeSubmitter(): void
  /** Takes no new jobs and waits for the handlers in progress. */
  stop(): Promise<void>
}

export type WorkerDeps = SubmitDeps & {
  config: SubmitDeps['config'] & Pick<Config, 'POLL_MAX_PER_SECOND' | 'POLL_SWEEP_INTERVAL_MS'>
}

/** Registers this process's queue handlers (stopping the queue lets jobs in progress finish). */
export async function startWorkers(deps: WorkerDeps): Promise<Workers> {
  const { queue, config } = deps
  const inFlight = new Set<Promise<unknown>>()
  // Shutdown waits for these, so no handler is cut off mid-way by the queue's connections closing.
  const tracked =
    <T>(handler: (jobs: T) => Promise<void>) =>
    (jobs: T): Promise<void> => {
      const run = handler(jobs)
      inFlight.add(run)
      run.finally(() => inFlight.delete(run)).catch(() => {})
      return run
    }
  const submitWorker = await queue.work<{ taskId: string }>(
    Queues.submit,
    { batchSize: 8, pollingIntervalSeconds: 0.5 },
    tracked(async (jobs: PgBoss.Job<{ taskId: string }>[]) => {
      // Each attempt settles on its own; a throw (database trouble) retries the batch, which is
      // safe because an attempt claims its task before calling PoYo.
      const results = await Promise.allSettled(jobs.map((job) => submitTask(deps, job.data.taskId)))
      const failure = results.find((result) => result.status === 'rejected')
      if (failure) throw failure.reason
    }),
  )

  const intervalSeconds = config.POLL_SWEEP_INTERVAL_MS / 1000
  let stopping = false
  const queueNextSweep = async (startAfterSeconds: number) => {
    if (stopping) return null
    return queue
      .send(Queues.pollSweep, {}, { singletonKey: 'sweep', startAfter: startAfterSeconds })
      .catch((error) => {
        deps.logger.warn({ err: error }, 'could not queue the next poll sweep')
        return null
      })
  }
  const sweepOptions = { batchSize: 1, pollingIntervalSeconds: Math.max(0.5, intervalSeconds / 2) }
  await queue.work(
    Queues.pollSweep,
    sweepOptions,
    tracked(async () => {
      try {
        const options = {
          maxPerSecond: config.POLL_MAX_PER_SECOND,
          intervalMs: config.POLL_SWEEP_INTERVAL_MS,
        }
        const result = await runPollSweep(deps, options)
        if (result.overdue || result.backedOffMs) deps.logger.info(result, 'poll sweep')
      } finally {
        await queueNextSweep(intervalSeconds)
      }
    }),
  )
  // The chain of sweeps survives restarts in the queue; this only re-links it if it ever broke
  // (the queue's policy keeps at most one waiting sweep, so extra sends are dropped).
  await queueNextSweep(0)
  const relink = setInterval(() => void queueNextSweep(intervalSeconds), 15_000)
  relink.unref()

  return {
    wakeSubmitter: () => queue.notifyWorker(submitWorker),
    stop: async () => {
      stopping = true
      clearInterval(relink)
      await Promise.all([queue.offWork(Queues.submit), queue.offWork(Queues.pollSweep)])
      await Promise.allSettled([...inFlight])
    },
  }
}
