import type { Clock } from '../clock.js'
import type { Prisma, PrismaClient } from '../db/client.js'
import type { PoyoTaskStatus } from '../poyo/client.js'
import { nextPollDelayMs } from './poll-schedule.js'
import { isTerminal, judgeUpdate, TaskErrorCode, type TaskStatus, type UpdateVerdict } from './status.js'
import type { TaskChanges } from './task-changes.js'
import { readTaskState, type TaskState } from './task-state.js'
import { recordEvent, type TaskEventRecord, type TransitionArgs, transition } from './transitions.js'

/** What PoYo says about a task, from a (confirmed) callback or a poll. */
export type ProviderReport = Pick<
  PoyoTaskStatus,
  'taskId' | 'status' | 'progress' | 'files' | 'errorMessage' | 'creditsAmount'
>

export type ApplyOutcome = Exclude<UpdateVerdict, 'advance' | 'revive'> | 'applied' | 'unknown_task'

interface ApplyDeps {
  prisma: PrismaClient
  clock: Clock
}

const maxRaces = 5

/**
 * Applies a report from PoYo to a task: moves it forward with one compare-and-set per
 * step, raises progress within `running`, and records reports that change nothing
 * (duplicates, stale ones) as events. Safe to call concurrently for the same task: every
 * write is conditional on what was read, so a stale read only costs another round.
 */
export async function applyProviderReport(
  deps: ApplyDeps,
  taskId: string,
  report: ProviderReport,
  source: 'callback' | 'poller',
  /** The task as the caller just read it, to save reading it again (a lost race re-reads). */
  justRead?: TaskState,
  /** An event about this report (the raw callback) to record with the first write, whatever it is. */
  firstRecord?: TaskEventRecord,
): Promise<ApplyOutcome> {
  let before = firstRecord
  for (let race = 0; race < maxRaces; race++) {
    const task = race === 0 && justRead ? justRead : await readTaskState(deps.prisma, taskId)
    if (!task) return 'unknown_task'
    const now = deps.clock.now()
    const reported: TaskStatus = report.status
    const verdict = judgeUpdate(task, { status: reported, progress: report.progress })
    const record = before
    // Whatever this round's outcome, `record` is written by it: later rounds must not repeat it.
    before = undefined
    if (verdict === 'advance' || verdict === 'revive') {
      // One statement: the fast path of every real state change.
      const moved = await transition(
        deps.prisma,
        reportTransition(task, report, { now, verdict, source, record }),
      )
      if (moved) return 'applied'
      continue
    }
    const outcome = await deps.prisma.$transaction(async (tx) => {
      if (record) await recordEvent(tx, taskId, record, now)
      switch (verdict) {
        case 'progress': {
          const { count } = await tx.task.updateMany({
            where: { id: taskId, status: 'running', progress: { lt: report.progress } },
            data: { progress: report.progress, updatedAt: now },
          })
          return count === 1 ? 'progress' : null
        }
        case 'duplicate':
        case 'stale':
          await recordEvent(
            tx,
            taskId,
            {
              type: 'ignored_update',
              source: source,
              payload: { verdict, current: task.status, reported, progress: report.progress },
            },
            now,
          )
          await adoptProviderId(tx, task, report.taskId)
          return verdict
      }
    })
    // null: another writer moved the task between our read and our write; judge again.
    if (outcome) return outcome
  }
  throw new Error(`task ${taskId}: lost ${maxRaces} races applying a PoYo report`)
}

/** The status change a report that moves `task` forward makes (`record`: the event it carries). */
export function reportTransition(
  task: TaskState,
  report: ProviderReport,
  how: { now: Date; verdict: 'advance' | 'revive'; source: 'callback' | 'poller'; record?: TaskEventRecord },
): TransitionArgs {
  const { now, verdict, source, record } = how
  return {
    taskId: task.id,
    from: task.status,
    to: report.status,
    at: now,
    source,
    payload: {
      provider_task_id: report.taskId,
      progress: report.progress,
      ...(verdict === 'revive' ? { revived: true } : {}),
    },
    data: changesFor(task, report, now, verdict),
    ...(record ? { before: record } : {}),
  }
}

/** The columns a forward move sets, from PoYo's report. */
function changesFor(task: TaskState, report: ProviderReport, now: Date, verdict: UpdateVerdict): TaskChanges {
  const to = report.status
  const data: TaskChanges = {
    progress: to === 'finished' ? 100 : Math.max(task.progress, report.progress),
    submitAmbiguous: false,
    nextPollAt: isTerminal(to) ? null : new Date(now.getTime() + nextPollDelayMs(task.pollAttempts)),
  }
  // A task adopted from a callback after an ambiguous submit learns its PoYo id here.
  if (!task.providerTaskId) data.providerTaskId = report.taskId
  if (!task.submittedAt) data.submittedAt = now
  if ((to === 'running' || isTerminal(to)) && !task.startedAt) data.startedAt = now
  if (isTerminal(to)) data.finishedAt = now
  if (to === 'finished') {
    data.files = report.files
    data.credits = report.creditsAmount
    if (verdict === 'revive') Object.assign(data, { errorCode: null, errorMessage: null })
  }
  if (to === 'failed') {
    data.errorCode = TaskErrorCode.providerFailed
    data.errorMessage = report.errorMessage ?? 'PoYo reported the task failed without a message'
    data.credits = 0
  }
  return data
}

async function adoptProviderId(tx: Prisma.TransactionClient, task: TaskState, providerTaskId: string) {
  if (!task.providerTaskId) {
    await tx.task.updateMany({ where: { id: task.id, providerTaskId: null }, data: { providerTaskId } })
  }
}
