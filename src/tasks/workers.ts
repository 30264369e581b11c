import type { Config } from '../config.js'
import { consume } from '../db/job-consumer.js'
import { Queues } from '../db/job-queue.js'
import { runPollSweep } from './poll-sweep.js'
import { type SubmitDeps, submitTask } from './submit-task.js'

export interface Workers {
  /** Wake the submit worker now instead of at its next poll. */
  wakeSubmitter(): void
  /** Takes no new jobs and waits for the jobs in progress. */
  stop(): Promise<void>
}

export type WorkerDeps = SubmitDeps & {
  config: SubmitDeps['config'] & Pick<Config, 'POLL_MAX_PER_SECOND' | 'POLL_SWEEP_INTERVAL_MS'>
}

/** Starts this process's consumers of the submit and poll-sweep queues. */
export async function startWorkers(deps: WorkerDeps): Promise<Workers> {
  const { queue, config, logger } = deps

  const submitter = consume<{ taskId: string }>(
    queue,
    Queues.submit,
    { batchSize: 8, intervalMs: 500 },
    async (jobs) => {
      // Each attempt settles on its own; a throw (database trouble) retries the batch, which is
      // safe because an attempt claims its task before calling PoYo.
      const results = await Promise.allSettled(jobs.map((job) => submitTask(deps, job.data.taskId)))
      const failure = results.find((result) => result.status === 'rejected')
      if (failure) throw failure.reason
    },
    logger,
  )

  const intervalSeconds = config.POLL_SWEEP_INTERVAL_MS / 1000
  let stopping = false
  const queueNextSweep = async (startAfterSeconds: number) => {
    if (stopping) return
    await queue
      .send(Queues.pollSweep, {}, { singletonKey: 'sweep', startAfter: startAfterSeconds })
      .catch((error) => logger.warn({ err: error }, 'could not queue the next poll sweep'))
  }
  const sweeper = consume(
    queue,
    Queues.pollSweep,
    { batchSize: 1, intervalMs: Math.max(250, config.POLL_SWEEP_INTERVAL_MS / 2) },
    async () => {
      try {
        const options = {
          maxPerSecond: config.POLL_MAX_PER_SECOND,
          intervalMs: config.POLL_SWEEP_INTERVAL_MS,
        }
        const result = await runPollSweep(deps, options)
        if (result.overdue || result.backedOffMs) logger.info(result, 'poll sweep')
      } finally {
        await queueNextSweep(intervalSeconds)
      }
    },
    logger,
  )
  // Each sweep queues the next; the chain survives restarts in the queue. This only re-links
  // it if it ever broke (the queue's policy keeps at most one waiting sweep, so extra sends drop).
  await queueNextSweep(0)
  const relink = setInterval(() => void queueNextSweep(intervalSeconds), 15_000)
  relink.unref()

  return {
    wakeSubmitter: () => submitter.wake(),
    stop: async () => {
      stopping = true
      clearInterval(relink)
      await Promise.all([submitter.stop(), sweeper.stop()])
    },
  }
}
