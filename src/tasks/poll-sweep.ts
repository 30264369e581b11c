import { setTimeout as sleep } from 'node:timers/promises'
import { claimDueTasks, failOverdueTasks, type PollDeps, pollTask } from './poll.js'

export interface SweepOptions {
  /** Cap on PoYo status calls per second. */
  maxPerSecond: number
  intervalMs: number
}

export interface SweepResult {
  overdue: number
  polled: number
  /** Set when PoYo asked us to slow down; the rest of the batch waits that long. */
  backedOffMs?: number
}

/**
 * One sweep: fail tasks past their deadline, then poll the tasks that are due, paced to
 * the cap. Only one sweep runs at a time cluster-wide (its queue is `stately`), so the
 * pacing here is the global limit; a 429 pauses the rest of the batch for its Retry-After.
 */
export async function runPollSweep(deps: PollDeps, options: SweepOptions): Promise<SweepResult> {
  const overdue = await failOverdueTasks(deps)
  const batch = Math.max(1, Math.floor((options.maxPerSecond * options.intervalMs) / 1000))
  const spacingMs = 1000 / options.maxPerSecond
  const started = Date.now()
  const claimed = await claimDueTasks(deps.prisma, deps.clock.now(), batch, 60_000)
  let polled = 0
  for (const [index, task] of claimed.entries()) {
    const wait = started + index * spacingMs - Date.now()
    if (wait > 0) await sleep(wait)
    const result = await pollTask(deps, task)
    polled++
    if (!result.ok && result.retryAfterMs) {
      const resumeAt = new Date(deps.clock.now().getTime() + result.retryAfterMs)
      const rest = claimed.slice(index + 1).map((t) => t.id)
      await deps.prisma.task.updateMany({ where: { id: { in: rest } }, data: { nextPollAt: resumeAt } })
      return { overdue, polled, backedOffMs: result.retryAfterMs }
    }
  }
  return { overdue, polled }
}
