import type { Config } from '../config.js'
import { consume } from '../db/job-consumer.js'
import { Queues } from '../db/job-queue.js'
import { startSweepChain } from '../db/sweep-chain.js'
import { refreshStats } from '../stats/refresh.js'
import type { UrlPolicy } from '../webhooks/ssrf.js'
import { createWebhookSender } from '../webhooks/sender.js'
import { runWebhookSweep } from '../webhooks/sweep.js'
import { createPacer, runPollSweep } from './poll-sweep.js'
import { type SubmitDeps, submitTask } from './submit-task.js'

export interface Workers {
  /** Wake the submit worker now instead of at its next poll. */
  wakeSubmitter(): void
  /** Takes no new jobs and waits for the jobs in progress. */
  stop(): Promise<void>
}

export type WorkerDeps = SubmitDeps & {
  config: SubmitDeps['config'] &
    Pick<
      Config,
      | 'POLL_MAX_PER_SECOND'
      | 'POLL_SWEEP_INTERVAL_MS'
      | 'WEBHOOK_TIMEOUT_MS'
      | 'SUBMIT_CONCURRENCY'
      | 'SUBMIT_FETCH_INTERVAL_MS'
      | 'SUBMIT_WAKE_GAP_MS'
      | 'STATS_REFRESH_INTERVAL_MS'
    >
  webhookPolicy: UrlPolicy
}

/** Starts this process's consumers: submissions, the poll sweep, the webhook sweep and the stats refresh. */
export async function startWorkers(deps: WorkerDeps): Promise<Workers> {
  const { queue, config, logger } = deps

  const submitter = consume<{ taskId: string }>(
    queue,
    Queues.submit,
    {
      concurrency: config.SUBMIT_CONCURRENCY,
      intervalMs: config.SUBMIT_FETCH_INTERVAL_MS,
      wakeGapMs: config.SUBMIT_WAKE_GAP_MS,
    },
    // A throw (database trouble) retries the job, which is safe: an attempt claims its task
    // before calling PoYo.
    (job) => submitTask(deps, job.data.taskId),
    logger,
  )

  const pollOptions = {
    maxPerSecond: config.POLL_MAX_PER_SECOND,
    intervalMs: config.POLL_SWEEP_INTERVAL_MS,
    pacer: createPacer(config.POLL_MAX_PER_SECOND),
  }
  const poller = await startSweepChain(
    queue,
    Queues.pollSweep,
    config.POLL_SWEEP_INTERVAL_MS,
    async () => {
      const result = await runPollSweep(deps, pollOptions)
      if (result.overdue || result.backedOffMs) logger.info(result, 'poll sweep')
      // PoYo asked us to slow down (429): the whole account waits, not just this batch.
      return result.backedOffMs
    },
    logger,
  )

  const sender = createWebhookSender({
    policy: deps.webhookPolicy,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    clock: deps.clock,
  })
  const deliveryDeps = { ...deps, sender }
  const webhooks = await startSweepChain(
    queue,
    Queues.webhookSweep,
    1_000,
    async () => {
      await runWebhookSweep(deliveryDeps)
      return undefined
    },
    logger,
  )

  // One refresh at a time cluster-wide (stately queue); GET /v1/stats is exact without it,
  // only slower as more hours are computed live.
  const stats = await startSweepChain(
    queue,
    Queues.statsRefresh,
    config.STATS_REFRESH_INTERVAL_MS,
    async () => {
      await refreshStats(deps.prisma)
      return undefined
    },
    logger,
  )

  return {
    wakeSubmitter: () => submitter.wake(),
    stop: async () => {
      await Promise.all([submitter.stop(), poller.stop(), webhooks.stop(), stats.stop()])
      // After the sweep: the attempts it started have their answers and are logged.
      await sender.close()
    },
  }
}
