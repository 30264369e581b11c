import { createHash } from 'node:crypto'
import type { Clock } from '../clock.js'
import type { Config } from '../config.js'
import { type PrismaClient, prepareStatement, queryRows, sqlState } from '../db/client.js'
import {
  type JobQueue,
  jobInsertStatement,
  Queues,
  type Statement,
  shiftPlaceholders,
} from '../db/job-queue.js'
import { IdempotencyConflictError, validationFailed } from '../errors.js'
import { Prisma, type Task } from '../generated/prisma/client.js'
import { uuidv7 } from '../ids.js'
import { normalizeTaskInput } from '../models/index.js'
import { checkWebhookUrl, type UrlPolicy } from '../webhooks/ssrf.js'
import type { Caller } from './caller.js'
import { submitWakeChannel } from './submit-wake.js'
import { submitDeadlineMs } from './deadlines.js'
import type { TaskStatus } from './status.js'
import { taskSelectList } from './task-row.js'

export interface CreateTaskRequest {
  model: string
  input: unknown
  metadata?: Record<string, unknown>
  webhook_url?: string
  webhook_events?: TaskStatus[]
}

export interface CreateTaskDeps {
  prisma: PrismaClient
  queue: JobQueue
  clock: Clock
  config: Pick<
    Config,
    'SUBMIT_DEADLINE_MINUTES' | 'TASK_DEADLINE_MINUTES' | 'TASK_DEADLINE_OVERRIDES' | 'WORKERS_ENABLED'
  >
  webhookPolicy: UrlPolicy
}

const metadataLimitBytes = 16 * 1024
const defaultWebhookEvents: TaskStatus[] = ['finished', 'failed']

/** Key order must not change a request's identity, so objects are hashed with sorted keys. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

export function requestHash(request: CreateTaskRequest): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex')
}

/** The webhook target must be a public http(s) URL (checked again at each delivery); `queued` is no event. */
async function webhookViolations(request: CreateTaskRequest, policy: UrlPolicy) {
  const violations: { pointer: string; detail: string }[] = []
  if (request.webhook_url) {
    const verdict = await checkWebhookUrl(request.webhook_url, policy)
    if (!verdict.ok) violations.push({ pointer: '/webhook_url', detail: verdict.reason })
  } else if (request.webhook_events) {
    violations.push({ pointer: '/webhook_events', detail: 'needs a webhook_url' })
  }
  request.webhook_events?.forEach((event, index) => {
    if (event === 'queued') {
      violations.push({
        pointer: `/webhook_events/${index}`,
        detail: 'queued is not announced: the task is queued when this request answers',
      })
    }
  })
  return violations
}

/** P2002 from a model call, Postgres' 23505 from a raw statement. */
function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown })?.code === 'P2002' || sqlState(error) === '23505'
}

async function replayIdempotent(
  prisma: PrismaClient,
  caller: Caller,
  key: string,
  hash: string,
): Promise<Task | null> {
  const existing = await prisma.task.findUnique({
    where: { clientScope_idempotencyKey: { clientScope: caller.scope, idempotencyKey: key } },
  })
  if (existing && existing.requestHash !== hash) throw new IdempotencyConflictError(key)
  return existing
}

/** What a new task is given; every other column takes its default. JSON as text. */
interface NewTask
  extends
    Pick<Task, 'id' | 'apiKeyId' | 'clientScope' | 'model' | 'estimatedCredits' | 'webhookUrl'>,
    Pick<Task, 'webhookEvents' | 'idempotencyKey' | 'requestHash' | 'deadlineAt'> {
  input: string
  metadata: string | null
}

/** Where the submit job's statement goes in the task's insert (spliced in after numbering). */
const submitJobSlot = '/* submit job */'

/** The statement's text by pg-boss's (the same for every job) and announcing: built and prepared once. */
const statementTexts = new Map<string, string>()

/**
 * The submit job, the task and its `created` event in one statement: one round trip where a
 * transaction took four, and as atomic. The task is inserted from the job's RETURNING, so
 * when the job is not inserted (its queue missing) nothing is, and no row returns. With
 * `announce` (an instance without workers) it also wakes the submit workers of the other
 * instances (NOTIFY on task_submits, delivered when the task commits): no second round trip.
 */
function insertTaskStatement(task: NewTask, now: Date, job: Statement, announce: boolean): Statement {
  const sql = Prisma.sql`
    WITH job AS (${Prisma.raw(submitJobSlot)}), task AS (
      INSERT INTO tasks (id, api_key_id, client_scope, model, input, metadata, estimated_credits, webhook_url,
        webhook_events, idempotency_key, request_hash, deadline_at, created_at, updated_at)
      SELECT ${task.id}::uuid, ${task.apiKeyId}::uuid, ${task.clientScope}::text, ${task.model}::text,
        ${task.input}::jsonb, ${task.metadata}::jsonb, ${task.estimatedCredits}::int, ${task.webhookUrl}::text,
        ${task.webhookEvents}::text[]::"TaskStatus"[], ${task.idempotencyKey}::text, ${task.requestHash}::text,
        ${task.deadlineAt}::timestamptz, ${now}::timestamptz, ${now}::timestamptz
      FROM job
      RETURNING *
    ), event AS (
      INSERT INTO task_events (task_id, type, source, to_status, created_at)
      SELECT id, 'created', 'api', 'queued', created_at FROM task
    )
    SELECT ${Prisma.raw(taskSelectList)} FROM task
    ${Prisma.raw(announce ? `CROSS JOIN LATERAL (SELECT pg_notify('${submitWakeChannel}', '')) AS announced` : '')}`
  const key = `${announce}:${job.text}`
  let text = statementTexts.get(key)
  if (text === undefined) {
    text = sql.text.replace(submitJobSlot, shiftPlaceholders(job, sql.values.length))
    prepareStatement(text)
    statementTexts.set(key, text)
  }
  return { text, values: [...sql.values, ...job.values] }
}

/**
 * Validates a request against the model catalog and stores the task (`queued`) together
 * with its first submit job, in one statement: once this returns, the task will be
 * submitted even if the process dies right after.
 */
export async function createTask(
  deps: CreateTaskDeps,
  caller: Caller,
  request: CreateTaskRequest,
  idempotencyKey?: string,
): Promise<{ task: Task; created: boolean }> {
  const hash = requestHash(request)
  if (idempotencyKey) {
    const replay = await replayIdempotent(deps.prisma, caller, idempotencyKey, hash)
    if (replay) return { task: replay, created: false }
  }

  const normalized = normalizeTaskInput(request.model, request.input)
  const violations = normalized.ok
    ? []
    : normalized.violations.map((v) => ({ pointer: v.pointer, detail: v.message }))
  if (request.metadata && Buffer.byteLength(JSON.stringify(request.metadata)) > metadataLimitBytes) {
    violations.push({ pointer: '/metadata', detail: `must be at most ${metadataLimitBytes} bytes of JSON` })
  }
  violations.push(...(await webhookViolations(request, deps.webhookPolicy)))
  if (!normalized.ok || violations.length > 0) throw validationFailed(violations)

  const now = deps.clock.now()
  const row = {
    id: uuidv7(),
    apiKeyId: caller.apiKeyId,
    clientScope: caller.scope,
    model: normalized.model.id,
    input: JSON.stringify(normalized.input),
    metadata: request.metadata === undefined ? null : JSON.stringify(request.metadata),
    estimatedCredits: normalized.estimatedCredits,
    webhookUrl: request.webhook_url ?? null,
    webhookEvents: request.webhook_url ? (request.webhook_events ?? defaultWebhookEvents) : [],
    idempotencyKey: idempotencyKey ?? null,
    requestHash: hash,
    deadlineAt: new Date(now.getTime() + submitDeadlineMs(deps.config)),
  }
  try {
    const job = await jobInsertStatement(deps.queue, Queues.submit, { taskId: row.id })
    const insert = insertTaskStatement(row, now, job, !deps.config.WORKERS_ENABLED)
    const [task] = await queryRows<Task>(deps.prisma, insert.text, insert.values)
    if (!task) throw new Error(`the ${Queues.submit} queue is missing: the task was not stored`)
    return { task, created: true }
  } catch (error) {
    // Two requests with one new key raced; the loser answers like a replay.
    if (idempotencyKey && isUniqueViolation(error)) {
      const replay = await replayIdempotent(deps.prisma, caller, idempotencyKey, hash)
      if (replay) return { task: replay, created: false }
    }
    throw error
  }
}
