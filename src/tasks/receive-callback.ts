import type { Clock } from '../clock.js'
import type { PrismaClient } from '../db/client.js'
import type { ServiceLogger } from '../logger.js'
import { type PoyoClient, type PoyoTaskStatus, parseStatusData } from '../poyo/client.js'
import { isPoyoError } from '../poyo/errors.js'
import { type ApplyOutcome, applyProviderReport } from './apply-report.js'
import { firstPollDelayMs } from './poll-schedule.js'
import { activeStatuses, isTerminal, judgeUpdate } from './status.js'
import { readTaskState } from './task-state.js'
import { recordEvent, recordEvents, type TaskEventRecord } from './transitions.js'

export interface CallbackDeps {
  prisma: PrismaClient
  poyo: PoyoClient
  clock: Clock
  logger: ServiceLogger
  /** Confirm with PoYo's status endpoint before trusting the body (its signature does not cover it). */
  confirm: boolean
}

/** What happened to a callback: applied (or a no-op), for an unknown task, or kept for the poller. */
export type CallbackOutcome = ApplyOutcome | 'mismatch' | 'deferred'

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** PoYo's callback body, wrapped (`{code, data}`, before July 2026) or not; a string says why it is unusable. */
export function parseCallbackBody(body: unknown): PoyoTaskStatus | string {
  if (!isRecord(body)) return 'the body must be a JSON object'
  const data = isRecord(body['data']) && !('task_id' in body) ? body['data'] : body
  return parseStatusData(data)
}

/**
 * Handles one authenticated callback for our task `taskId`: stores it raw, confirms it
 * with PoYo (unless switched off), and applies PoYo's answer. When confirmation fails
 * the callback stays recorded and the task is polled soon instead: nothing is lost.
 */
export async function receiveCallback(
  deps: CallbackDeps,
  taskId: string,
  callback: PoyoTaskStatus,
  raw: { body: unknown; signatureChecked: boolean },
): Promise<CallbackOutcome> {
  const task = await readTaskState(deps.prisma, taskId)
  if (!task) return 'unknown_task'
  const now = deps.clock.now()
  const received: TaskEventRecord = {
    type: 'callback',
    source: 'callback',
    payload: { body: raw.body, signature_checked: raw.signatureChecked, confirm: deps.confirm },
  }
  if (task.providerTaskId && task.providerTaskId !== callback.taskId) {
    const ignored: TaskEventRecord = {
      type: 'ignored_update',
      source: 'callback',
      payload: {
        verdict: 'mismatch',
        provider_task_id: task.providerTaskId,
        callback_task_id: callback.taskId,
      },
    }
    await recordEvents(deps.prisma, taskId, [received, ignored], now)
    return 'mismatch'
  }
  // A callback that cannot move the task (it is final, and this is no "finished" beating our
  // own deadline) is recorded as ignored without asking PoYo: duplicates cost no status call.
  const canMove = !isTerminal(task.status) || judgeUpdate(task, callback) === 'revive'
  // Without a question to PoYo the callback is recorded by the write it causes (one statement).
  if (!deps.confirm || !canMove)
    return applyProviderReport(deps, taskId, callback, 'callback', { justRead: task, firstRecord: received })

  // Kept before asking PoYo, which may take long or fail.
  await recordEvent(deps.prisma, taskId, received, now)

  try {
    const confirmed = await deps.poyo.status(callback.taskId)
    return await applyProviderReport(deps, taskId, confirmed, 'callback')
  } catch (error) {
    if (!isPoyoError(error)) throw error
    deps.logger.warn({ taskId, err: error }, 'could not confirm a callback with PoYo; polling the task soon')
    const pollSoon = { nextPollAt: new Date(now.getTime() + firstPollDelayMs) }
    const active = { id: taskId, status: { in: [...activeStatuses] } }
    // The URL token proves the callback is about this task, so its PoYo id is safe to poll;
    // if another task already holds that id, only the poll is scheduled.
    await deps.prisma.task
      .updateMany({
        where: active,
        data: { ...pollSoon, providerTaskId: task.providerTaskId ?? callback.taskId },
      })
      .catch(async (updateError: { code?: string }) => {
        if (updateError.code !== 'P2002') throw updateError
        await deps.prisma.task.updateMany({ where: active, data: pollSoon })
      })
    return 'deferred'
  }
}
