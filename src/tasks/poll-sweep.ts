import { setTimeout as sleep } from 'node:timers/promises'
import { claimDueTasks, failOverdueTasks, type PollDeps, pollTask } from './poll.js'

export interface SweepOptions {
  /** Cap on PoYo status calls per second. */
  maxPerSecond: number
  intervalMs: number
  /** Spaces the calls (shared by this process's sweeps). */
  pacer: Pacer
}

export interface Pacer {
  /** Resolves when the next call may start, and counts it as started. */
  turn(): Promise<void>
}

/**
 * Calls at least 1000/maxPerSecond ms apart, measured from the previous call, across
 * sweeps: after a stall (a slow call, a busy event loop) the late calls do not bunch up to
 * catch up with a schedule, so no second ever holds more than the cap.
 */
export function createPacer(maxPerSecond: number): Pacer {
  const spacingMs = 1000 / maxPerSecond
  let lastAt = Number.NEGATIVE_INFINITY
  return {
    async turn() {
      const wait = lastAt + spacingMs - Date.now()
      if (wait > 0) await sleep(wait)
      lastAt = Date.now()
    },
  }
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
  const claimed = await claimDueTasks(deps.prisma, deps.clock.now(), batch, 60_000)
  let polled = 0
  for (const [index, task] of claimed.entries()) {
    await options.pacer.turn()
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
