import { TaskStatus } from '../generated/prisma/enums.js'

export { TaskStatus }

/** Our error codes for failed tasks; clients may branch on them. */
export const TaskErrorCode = {
  /** PoYo refused the task when it was submitted (400/402/403). */
  providerRejected: 'provider_rejected',
  /** PoYo accepted the task and later reported it failed. */
  providerFailed: 'provider_failed',
  /** PoYo's status endpoint no longer knows a task it accepted. */
  providerLost: 'provider_lost',
  /** No final answer from PoYo before the task's deadline. */
  deadlineExceeded: 'deadline_exceeded',
} as const

/** Position in the lifecycle; a status may only be replaced by one of higher rank. */
export function statusRank(status: TaskStatus): number {
  switch (status) {
    case 'queued':
      return 0
    case 'not_started':
      return 1
    case 'running':
      return 2
    case 'finished':
    case 'failed':
      return 3
    default:
      return assertNever(status)
  }
}

export function isTerminal(status: TaskStatus): boolean {
  switch (status) {
    case 'finished':
    case 'failed':
      return true
    case 'queued':
    case 'not_started':
    case 'running':
      return false
    default:
      return assertNever(status)
  }
}

/** Non-terminal statuses: the ones the poller and the deadline watch. */
export const activeStatuses: readonly TaskStatus[] = Object.values(TaskStatus).filter(
  (status) => !isTerminal(status),
)

export interface CurrentState {
  status: TaskStatus
  progress: number
  errorCode: string | null
}

export interface ReportedState {
  status: TaskStatus
  progress: number
}

/**
 * What to do with a status report about a task:
 * - `advance`: the status moves forward; apply it.
 * - `progress`: same `running` status, higher progress; apply the progress only.
 * - `revive`: we failed the task for lack of an answer and PoYo now says it finished:
 *   PoYo's word beats our timeout.
 * - `duplicate`: nothing new.
 * - `stale`: older than what we know (e.g. `running` after `finished`).
 */
export type UpdateVerdict = 'advance' | 'progress' | 'revive' | 'duplicate' | 'stale'

export function judgeUpdate(current: CurrentState, reported: ReportedState): UpdateVerdict {
  if (
    current.status === 'failed' &&
    current.errorCode === TaskErrorCode.deadlineExceeded &&
    reported.status === 'finished'
  ) {
    return 'revive'
  }
  const from = statusRank(current.status)
  const to = statusRank(reported.status)
  if (to > from) return 'advance'
  if (to < from || reported.status !== current.status) return 'stale'
  if (reported.status === 'running' && reported.progress > current.progress) return 'progress'
  return reported.progress < current.progress ? 'stale' : 'duplicate'
}

function assertNever(value: never): never {
  throw new Error(`unhandled status ${String(value)}`)
}
