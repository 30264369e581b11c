import type PgBoss from 'pg-boss'
import { Queues } from '../db/job-queue.js'
import { type SubmitDeps, submitTask } from './submit-task.js'

export interface Workers {
  /** Wake the submit worker now instead of at its next poll. */
  wakeSubmitter(): void
}

/** Registers the queue handlers of this process (stopping the queue lets jobs in progress finish). */
export async function startWorkers(deps: SubmitDeps): Promise<Workers> {
  const { queue } = deps
  const submitWorker = await queue.work<{ taskId: string }>(
    Queues.submit,
    { batchSize: 8, pollingIntervalSeconds: 0.5 },
    async (jobs: PgBoss.Job<{ taskId: string }>[]) => {
      // Each attempt settles on its own; a throw (database trouble) retries the batch, which is
      // safe because an attempt claims its task before calling PoYo.
      const results = await Promise.allSettled(jobs.map((job) => submitTask(deps, job.data.taskId)))
      const failure = results.find((result) => result.status === 'rejected')
      if (failure) throw failure.reason
    },
  )
  return { wakeSubmitter: () => queue.notifyWorker(submitWorker) }
}
