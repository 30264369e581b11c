import type { Clock } from '../clock.js'
import { type PrismaClient, prepareStatement, queryRows } from '../db/client.js'
import type { PoyoTaskStatus } from '../poyo/client.js'
import { nextPollDelayMs } from './poll-schedule.js'
import { isTerminal, judgeUpdate, TaskErrorCode, type TaskStatus, type UpdateVerdict } from './status.js'
import type { TaskChanges } from './task-changes.js'
import { readTaskState, type TaskState } from './task-state.js'
import { insertEventsSql, type TaskEventRecord, type TransitionArgs, transition } from './transitions.js'

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

export interface ApplyOptions {
  /** The task as the caller just read it, to save reading it again (a lost race re-reads). */
  justRead?: TaskState
  /** An event about this report (the raw callback, the poll's answer) to record with the first write, whatever it is. */
  firstRecord?: TaskEventRecord
  /** When the report arrived: the first write's time, so the caller can schedule from it (a poll's next one). */
  receivedAt?: Date
}

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
  options: ApplyOptions = {},
): Promise<ApplyOutcome> {
  const { justRead, firstRecord, receivedAt } = options
  let before = firstRecord
  for (let race = 0; race < maxRaces; race++) {
    const task = race === 0 && justRead ? justRead : await readTaskState(deps.prisma, taskId)
    if (!task) return 'unknown_task'
    const now = race === 0 && receivedAt ? receivedAt : deps.clock.now()
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
    const events = record ? [record] : []
    let outcome: ApplyOutcome | null
    if (verdict === 'progress') {
      outcome = (await raiseProgress(deps.prisma, taskId, report.progress, now, events)) ? 'progress' : null
    } else {
      events.push({
        type: 'ignored_update',
        source,
        payload: { verdict, current: task.status, reported, progress: report.progress },
      })
      await recordIgnored(deps.prisma, taskId, task.providerTaskId ? null : report.taskId, now, events)
      outcome = verdict
    }
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

// One statement each, not a transaction: every progress poll of a running task takes one.
const raiseProgressSql = `
  WITH noted AS (${insertEventsSql}), raised AS (
    UPDATE tasks SET progress = $4::int, updated_at = $2::timestamptz
    WHERE id = $1::uuid AND status = 'running' AND progress < $4::int
    RETURNING 1
  )
  SELECT count(*)::int AS raised FROM raised`
prepareStatement(raiseProgressSql)

const recordIgnoredSql = `
  WITH noted AS (${insertEventsSql}), adopted AS (
    UPDATE tasks SET provider_task_id = $4::text
    WHERE $4::text IS NOT NULL AND id = $1::uuid AND provider_task_id IS NULL
  )
  SELECT 1`
prepareStatement(recordIgnoredSql)

/** Records `events` and raises the progress of a running task; false when it was not running or ahead. */
async function raiseProgress(
  db: PrismaClient,
  taskId: string,
  progress: number,
  now: Date,
  events: TaskEventRecord[],
): Promise<boolean> {
  const [row] = await queryRows<{ raised: number }>(db, raiseProgressSql, [
    taskId,
    now,
    JSON.stringify(events),
    progress,
  ])
  return row?.raised === 1
}

/** Records `events` (the last says why the report changed nothing) and adopts PoYo's id when the task has none. */
async function recordIgnored(
  db: PrismaClient,
  taskId: string,
  adoptProviderId: string | null,
  now: Date,
  events: TaskEventRecord[],
): Promise<void> {
  await queryRows(db, recordIgnoredSql, [taskId, now, JSON.stringify(events), adoptProviderId])
}
