import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import { type Prisma, type PrismaClient, prepareStatement, queryRows } from '../db/client.js'
import { coalesce, perClient } from '../db/coalesce.js'
import { type JobQueue, Queues, sendInTransaction } from '../db/job-queue.js'
import type { Task } from '../generated/prisma/client.js'
import type { Logger } from '../logger.js'
import { modelCatalog } from '../models/index.js'
import type { PoyoClient } from '../poyo/client.js'
import { isPoyoError, type PoyoError } from '../poyo/errors.js'
import { callbackUrl } from './callback-token.js'
import { runDeadlineMs } from './deadlines.js'
import { firstPollDelayMs } from './poll-schedule.js'
import { TaskErrorCode } from './status.js'
import { recordEvent, transition } from './transitions.js'

export interface SubmitDeps {
  prisma: PrismaClient
  poyo: PoyoClient
  queue: JobQueue
  clock: Clock
  logger: Logger
  config: Pick<Config, 'POYO_TIMEOUT_MS' | 'TASK_DEADLINE_MINUTES' | 'TASK_DEADLINE_OVERRIDES'>
  /** Base URL PoYo calls back to; null means polling only. */
  callbackBaseUrl: string | null
  callbackSecret: string
  random?: () => number
}

const retryBaseMs = 1_000
const retryCapMs = 5 * 60_000

/** Exponential backoff with jitter (half fixed, half random), never sooner than PoYo's Retry-After. */
export function retryDelayMs(
  attempt: number,
  retryAfterMs: number | undefined,
  random: () => number,
): number {
  const exponential = Math.min(retryCapMs, retryBaseMs * 2 ** Math.max(0, attempt - 1))
  const jittered = exponential / 2 + random() * (exponential / 2)
  return Math.max(Math.round(jittered), retryAfterMs ?? 0)
}

/** What a submit attempt needs of its task. */
type ClaimedTask = Pick<Task, 'id' | 'model' | 'input' | 'submitAttempts'>

/**
 * Marks attempts in flight, each only if its task may be submitted now: $1 the task ids (in
 * id order, so two instances' batches lock shared rows in the same order), $2 each one's now.
 */
const claimSql = `
  UPDATE tasks t SET submit_in_flight_at = c.at, submit_attempts = t.submit_attempts + 1, updated_at = c.at
  FROM unnest($1::uuid[], $2::timestamptz[]) AS c(id, at)
  WHERE t.id = c.id AND t.status = 'queued' AND t.submit_in_flight_at IS NULL
    AND NOT t.submit_ambiguous AND t.deadline_at > c.at
  RETURNING t.id, t.model, t.input, t.submit_attempts`
prepareStatement(claimSql)

interface Claim {
  taskId: string
  now: Date
}

/** The compare-and-set claims of a batch, as one narrow prepared statement (the model query took about 60% more CPU). */
async function claimAll(prisma: PrismaClient, claims: Claim[]): Promise<(ClaimedTask | null)[]> {
  const ordered = [...claims].sort((a, b) => (a.taskId < b.taskId ? -1 : 1))
  const rows = await queryRows<{
    id: string
    model: string
    input: Prisma.JsonValue
    submit_attempts: number
  }>(prisma, claimSql, [ordered.map((c) => c.taskId), ordered.map((c) => c.now.toISOString())])
  const claimed = new Map(rows.map((row) => [row.id, row]))
  return claims.map(({ taskId }) => {
    const row = claimed.get(taskId)
    return row
      ? { id: row.id, model: row.model, input: row.input, submitAttempts: row.submit_attempts }
      : null
  })
}

// The jobs of one fetch start together: their claims share a statement.
const claimer = perClient((prisma: PrismaClient) =>
  coalesce<Claim, ClaimedTask | null>({
    kind: 'submit_claim',
    key: (claim) => claim.taskId,
    execute: (claims) => claimAll(prisma, claims),
    isolateFailures: true,
  }),
)

const claimSubmitAttempt = (prisma: PrismaClient, taskId: string, now: Date): Promise<ClaimedTask | null> =>
  claimer(prisma).run({ taskId, now })

/**
 * One submit attempt of a task, run by the submit worker. Exactly one attempt runs at a
 * time per task (the in-flight marker is claimed by compare-and-set), and an attempt whose
 * outcome is unknown (timeout after sending, or a crash mid-request) is never repeated:
 * PoYo may have created the task and would bill it twice.
 */
export async function submitTask(deps: SubmitDeps, taskId: string): Promise<void> {
  const now = deps.clock.now()
  const task = await claimSubmitAttempt(deps.prisma, taskId, now)
  if (!task) return handleUnclaimable(deps, taskId, now)

  try {
    const result = await deps.poyo.submit({
      model: task.model,
      input: task.input as Record<string, unknown>,
      ...(deps.callbackBaseUrl
        ? { callbackUrl: callbackUrl(deps.callbackBaseUrl, deps.callbackSecret, task.id) }
        : {}),
    })
    await recordAccepted(deps, task, result.taskId)
  } catch (error) {
    if (!isPoyoError(error)) {
      // A bug or the database, not PoYo: the request may have gone out, so treat it as unknown.
      deps.logger.error({ err: error, taskId }, 'submit attempt failed unexpectedly')
      await recordAmbiguous(deps, task, 'the submit attempt failed inside the service')
      return
    }
    switch (error.kind) {
      case 'final':
        return recordRejected(deps, task, error)
      case 'ambiguous':
        return recordAmbiguous(deps, task, error.message)
      case 'retryable':
      case 'auth':
      case 'not_found':
        return scheduleRetry(deps, task, error)
    }
  }
}

/** Nothing to claim: already submitted, finished, in flight elsewhere, interrupted, or out of time. */
async function handleUnclaimable(deps: SubmitDeps, taskId: string, now: Date): Promise<void> {
  const task = await deps.prisma.task.findUnique({ where: { id: taskId } })
  if (task?.status !== 'queued' || task.submitAmbiguous) return
  if (task.submitInFlightAt) {
    // Another attempt is still within its timeout: leave it be. Older than that, it was cut
    // off (crash or restart) after possibly reaching PoYo: its outcome is unknown.
    const stale = now.getTime() - task.submitInFlightAt.getTime() > deps.config.POYO_TIMEOUT_MS + 30_000
    if (stale) {
      return recordAmbiguous(deps, task, 'a submit attempt was interrupted (the service stopped mid-request)')
    }
    // Failing the job makes the queue look again later (with backoff): by then the other
    // attempt has recorded its answer, or its marker has gone stale.
    throw new Error(`task ${taskId}: a submit attempt is in flight; checking again later`)
  }
  if (task.deadlineAt <= now) {
    await transition(deps.prisma, {
      taskId,
      from: 'queued',
      to: 'failed',
      at: now,
      source: 'submitter',
      data: {
        errorCode: TaskErrorCode.deadlineExceeded,
        errorMessage: `PoYo did not accept the task within its submission deadline (${task.submitAttempts} attempts)`,
        finishedAt: now,
      },
    })
  }
}

async function recordAccepted(deps: SubmitDeps, task: ClaimedTask, providerTaskId: string): Promise<void> {
  const now = deps.clock.now()
  const family = modelCatalog.get(task.model)?.family ?? task.model
  const moved = await transition(deps.prisma, {
    taskId: task.id,
    from: 'queued',
    to: 'not_started',
    at: now,
    source: 'submitter',
    payload: { provider_task_id: providerTaskId },
    data: {
      providerTaskId,
      submittedAt: now,
      submitInFlightAt: null,
      nextPollAt: new Date(now.getTime() + firstPollDelayMs),
      deadlineAt: new Date(now.getTime() + runDeadlineMs(deps.config, family)),
    },
    before: {
      type: 'submit_attempt',
      source: 'submitter',
      payload: { attempt: task.submitAttempts, outcome: 'accepted', provider_task_id: providerTaskId },
    },
  })
  // A fast callback may have adopted the task first: keep what it set, add what it lacked.
  if (!moved) await deps.prisma.$transaction((tx) => adoptLateAcceptance(tx, task.id, providerTaskId, now))
}

async function adoptLateAcceptance(
  tx: Prisma.TransactionClient,
  taskId: string,
  providerTaskId: string,
  now: Date,
) {
  await tx.task.updateMany({ where: { id: taskId, providerTaskId: null }, data: { providerTaskId } })
  await tx.task.updateMany({
    where: { id: taskId },
    data: { submitInFlightAt: null, submittedAt: now },
  })
}

async function recordRejected(deps: SubmitDeps, task: ClaimedTask, error: PoyoError): Promise<void> {
  const now = deps.clock.now()
  await transition(deps.prisma, {
    taskId: task.id,
    from: 'queued',
    to: 'failed',
    at: now,
    source: 'submitter',
    data: {
      submitInFlightAt: null,
      finishedAt: now,
      errorCode: TaskErrorCode.providerRejected,
      errorMessage: error.message,
      providerErrorCode: error.code ?? error.httpStatus ?? null,
      providerErrorType: error.type ?? null,
    },
    before: {
      type: 'submit_attempt',
      source: 'submitter',
      payload: { attempt: task.submitAttempts, outcome: 'rejected', error: error.toJSON() },
    },
  })
}

async function recordAmbiguous(deps: SubmitDeps, task: ClaimedTask, reason: string): Promise<void> {
  const now = deps.clock.now()
  await deps.prisma.$transaction(async (tx) => {
    // From here the task may be running at PoYo: give it a run's time to show up.
    const family = modelCatalog.get(task.model)?.family ?? task.model
    await tx.task.updateMany({
      where: { id: task.id, status: 'queued' },
      data: {
        submitAmbiguous: true,
        submitInFlightAt: null,
        updatedAt: now,
        deadlineAt: new Date(now.getTime() + runDeadlineMs(deps.config, family)),
      },
    })
    await recordEvent(
      tx,
      task.id,
      {
        type: 'submit_attempt',
        source: 'submitter',
        payload: {
          attempt: task.submitAttempts,
          outcome: 'ambiguous',
          reason,
          note: 'not resubmitted: PoYo may have created the task; its callback adopts it, otherwise the deadline fails it',
        },
      },
      now,
    )
  })
  deps.logger.warn(
    { taskId: task.id, reason },
    'submit outcome unknown; waiting for a callback or the deadline',
  )
}

async function scheduleRetry(deps: SubmitDeps, task: ClaimedTask, error: PoyoError): Promise<void> {
  const now = deps.clock.now()
  const delay = retryDelayMs(task.submitAttempts, error.retryAfterMs, deps.random ?? Math.random)
  if (error.kind === 'auth')
    deps.logger.error({ taskId: task.id }, 'PoYo refused our API key; check POYO_API_KEY')
  await deps.prisma.$transaction(async (tx) => {
    await tx.task.updateMany({ where: { id: task.id }, data: { submitInFlightAt: null } })
    await recordEvent(
      tx,
      task.id,
      {
        type: 'submit_attempt',
        source: 'submitter',
        payload: {
          attempt: task.submitAttempts,
          outcome: 'retry',
          retry_in_ms: delay,
          error: error.toJSON(),
        },
      },
      now,
    )
    await sendInTransaction(
      deps.queue,
      tx,
      Queues.submit,
      { taskId: task.id },
      {
        startAfter: new Date(now.getTime() + delay),
      },
    )
  })
}
