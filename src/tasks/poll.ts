import type { Clock } from '../clock.js'
import { type PrismaClient, prepareStatement, queryRows } from '../db/client.js'
import type { ServiceLogger } from '../logger.js'
import type { PoyoClient } from '../poyo/client.js'
import { isPoyoError } from '../poyo/errors.js'
import { type ApplyOutcome, applyProviderReport } from './apply-report.js'
import { nextPollDelayMs } from './poll-schedule.js'
import { activeStatuses, isTerminal, TaskErrorCode, type TaskStatus } from './status.js'
import { recordEvent, type TaskEventRecord, transition } from './transitions.js'

export interface PollDeps {
  prisma: PrismaClient
  poyo: PoyoClient
  clock: Clock
  logger: ServiceLogger
}

export type PollResult =
  { ok: true; outcome: ApplyOutcome } | { ok: false; error: string; retryAfterMs?: number; kind: string }

/**
 * Asks PoYo for one task's status, records the answer as a `poll` event, applies it,
 * and schedules the task's next poll (sooner early on, sparser later, never before
 * PoYo's Retry-After).
 */
export async function pollTask(
  deps: PollDeps,
  task: { id: string; providerTaskId: string; pollAttempts: number },
): Promise<PollResult> {
  const attempts = task.pollAttempts + 1
  try {
    const report = await deps.poyo.status(task.providerTaskId)
    const now = deps.clock.now()
    const answer: TaskEventRecord = {
      type: 'poll',
      source: 'poller',
      payload: {
        status: report.status,
        progress: report.progress,
        files: report.files,
        error_message: report.errorMessage,
        credits_amount: report.creditsAmount,
      },
    }
    // The answer is recorded by the write applying it (first, whatever that write is).
    const outcome = await applyProviderReport(deps, task.id, report, 'poller', {
      firstRecord: answer,
      receivedAt: now,
    })
    await scheduleNextPoll(deps, task.id, attempts, now, nextPollDelayMs(attempts))
    return { ok: true, outcome }
  } catch (error) {
    if (!isPoyoError(error)) throw error
    const now = deps.clock.now()
    if (error.kind === 'not_found' && (await failIfLost(deps, task.id, now))) {
      return { ok: false, error: error.message, kind: error.kind }
    }
    const delay = Math.max(nextPollDelayMs(attempts), error.retryAfterMs ?? 0)
    await recordEvent(
      deps.prisma,
      task.id,
      { type: 'poll', source: 'poller', payload: { error: error.toJSON(), retry_in_ms: delay } },
      now,
    )
    await scheduleNextPoll(deps, task.id, attempts, now, delay)
    return {
      ok: false,
      error: error.message,
      kind: error.kind,
      ...(error.retryAfterMs ? { retryAfterMs: error.retryAfterMs } : {}),
    }
  }
}

/** After we fail a task for its deadline, PoYo is still asked this often, for this long. */
const afterDeadlinePollMs = 10 * 60_000
const afterDeadlineWindowMs = 24 * 3_600_000

const scheduleNextPollSql = `
  UPDATE tasks SET poll_attempts = $1::int, next_poll_at = CASE
    WHEN status IN ('queued', 'not_started', 'running') THEN $2::timestamptz
    WHEN finished_at > $3::timestamptz THEN $4::timestamptz
    ELSE NULL END
  WHERE id = $5::uuid
    AND (status IN ('queued', 'not_started', 'running')
      OR (status = 'failed' AND error_code = '${TaskErrorCode.deadlineExceeded}'))`
prepareStatement(scheduleNextPollSql)

/**
 * Sets when a task is polled next: active tasks after `delayMs`; a task we failed for its
 * deadline sparsely until a day has passed; anything else never.
 */
async function scheduleNextPoll(
  deps: Pick<PollDeps, 'prisma'>,
  taskId: string,
  attempts: number,
  now: Date,
  delayMs: number,
) {
  // One statement on the hot path; finished tasks and other failures are left as they are.
  const soon = new Date(now.getTime() + delayMs)
  const sparse = new Date(now.getTime() + Math.max(delayMs, afterDeadlinePollMs))
  const windowStart = new Date(now.getTime() - afterDeadlineWindowMs)
  await queryRows(deps.prisma, scheduleNextPollSql, [attempts, soon, windowStart, sparse, taskId])
}

/** How long after acceptance a 404 from PoYo's status endpoint is taken as final. */
const lostAfterMs = 5 * 60_000

/**
 * PoYo answering 404 for a task it accepted minutes ago will not change its mind: fail the
 * task. Right after acceptance a 404 may be PoYo catching up, so it is only retried.
 */
async function failIfLost(deps: Pick<PollDeps, 'prisma'>, taskId: string, now: Date): Promise<boolean> {
  const task = await deps.prisma.task.findUnique({ where: { id: taskId } })
  if (!task?.submittedAt || isTerminal(task.status)) return false
  if (now.getTime() - task.submittedAt.getTime() < lostAfterMs) return false
  return transition(deps.prisma, {
    taskId,
    from: task.status,
    to: 'failed',
    at: now,
    source: 'poller',
    data: {
      errorCode: TaskErrorCode.providerLost,
      errorMessage: `PoYo no longer knows task ${task.providerTaskId}`,
      finishedAt: now,
      nextPollAt: null,
    },
    before: { type: 'poll', source: 'poller', payload: { error: 'not_found' } },
  })
}

interface OverdueRow {
  id: string
  status: TaskStatus
  submit_ambiguous: boolean
  provider_task_id: string | null
}

/**
 * Active tasks past their deadline, the longest overdue first. The statuses are literals so
 * that the partial index tasks_active_deadline_manual (deadline_at of active tasks only)
 * answers it: without it every sweep read every active task (a parallel seq scan of 290 ms
 * with 400,000 of them, once a second).
 */
export const overdueTasksSql = `
  SELECT id, status::text AS status, submit_ambiguous, provider_task_id
  FROM tasks
  WHERE status IN (${activeStatuses.map((status) => `'${status}'`).join(', ')}) AND deadline_at <= $1::timestamptz
  ORDER BY deadline_at
  LIMIT $2::int`
prepareStatement(overdueTasksSql)

/** Fails every non-terminal task whose deadline has passed; returns how many. */
export async function failOverdueTasks(
  deps: Pick<PollDeps, 'prisma' | 'clock'>,
  limit = 500,
): Promise<number> {
  const now = deps.clock.now()
  const overdue = await queryRows<OverdueRow>(deps.prisma, overdueTasksSql, [now, limit])
  let failed = 0
  for (const task of overdue) {
    const reason =
      task.status === 'queued'
        ? task.submit_ambiguous
          ? 'PoYo never confirmed a submit whose answer was lost (no callback and no task id to poll) before the deadline'
          : 'PoYo did not accept the task before its submission deadline'
        : 'PoYo gave no final answer before the task deadline'
    const moved = await transition(deps.prisma, {
      taskId: task.id,
      from: task.status,
      to: 'failed',
      at: now,
      source: 'system',
      payload: { reason: 'deadline' },
      data: {
        errorCode: TaskErrorCode.deadlineExceeded,
        errorMessage: reason,
        finishedAt: now,
        // PoYo's word beats our timeout: keep asking now and then, for a while.
        nextPollAt: task.provider_task_id ? new Date(now.getTime() + afterDeadlinePollMs) : null,
      },
    })
    if (moved) failed++
  }
  return failed
}

/**
 * The poll sweep's claim: `$1` the lease's end, `$2` now, `$3` the most to claim. It reads
 * tasks_next_poll_at_manual, which holds polled tasks only (`next_poll_at <= $2` implies the
 * index's `IS NOT NULL`; a test holds the plan).
 */
export const claimDueTasksSql = `
  UPDATE tasks SET next_poll_at = $1::timestamptz
  WHERE id IN (
    SELECT id FROM tasks
    WHERE (status IN ('queued', 'not_started', 'running') OR (status = 'failed' AND error_code = 'deadline_exceeded'))
      AND provider_task_id IS NOT NULL AND next_poll_at <= $2::timestamptz
    ORDER BY next_poll_at
    LIMIT $3::int
    FOR UPDATE SKIP LOCKED
  )
  RETURNING id, provider_task_id, poll_attempts`
// Not prepared: a generic plan cannot see the LIMIT and joins back to a read of every task.

/**
 * Claims up to `limit` tasks whose poll is due, pushing their next poll out by `leaseMs`
 * in the same statement, so concurrent sweeps (other instances) never poll one task twice.
 */
export async function claimDueTasks(
  prisma: PrismaClient,
  now: Date,
  limit: number,
  leaseMs: number,
): Promise<{ id: string; providerTaskId: string; pollAttempts: number }[]> {
  const leaseUntil = new Date(now.getTime() + leaseMs)
  const rows = await queryRows<{ id: string; provider_task_id: string; poll_attempts: number }>(
    prisma,
    claimDueTasksSql,
    [leaseUntil, now, limit],
  )
  return rows.map((row) => ({
    id: row.id,
    providerTaskId: row.provider_task_id,
    pollAttempts: row.poll_attempts,
  }))
}
