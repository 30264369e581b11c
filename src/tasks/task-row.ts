import type { Task } from '../generated/prisma/client.js'

/** Each field of Prisma's `Task` and its column: a field added to the model fails to compile until listed. */
const taskColumns = {
  id: 'id',
  apiKeyId: 'api_key_id',
  model: 'model',
  status: 'status',
  input: 'input',
  metadata: 'metadata',
  providerTaskId: 'provider_task_id',
  progress: 'progress',
  files: 'files',
  errorCode: 'error_code',
  errorMessage: 'error_message',
  providerErrorCode: 'provider_error_code',
  providerErrorType: 'provider_error_type',
  credits: 'credits',
  estimatedCredits: 'estimated_credits',
  webhookUrl: 'webhook_url',
  webhookEvents: 'webhook_events',
  idempotencyKey: 'idempotency_key',
  requestHash: 'request_hash',
  clientScope: 'client_scope',
  submitAmbiguous: 'submit_ambiguous',
  submitAttempts: 'submit_attempts',
  submitInFlightAt: 'submit_in_flight_at',
  nextPollAt: 'next_poll_at',
  pollAttempts: 'poll_attempts',
  deadlineAt: 'deadline_at',
  createdAt: 'created_at',
  submittedAt: 'submitted_at',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  updatedAt: 'updated_at',
} as const satisfies Record<keyof Task, string>

/**
 * A select (or RETURNING) list whose rows are Prisma `Task`s as a raw query returns them:
 * camelCase fields, timestamps as Date, JSON parsed. The driver leaves an enum array as
 * its text form (`{finished,failed}`), so `webhook_events` is cast to text[].
 */
export const taskSelectList = Object.entries(taskColumns)
  .map(([field, column]) => `${column}${column === 'webhook_events' ? '::text[]' : ''} AS "${field}"`)
  .join(', ')

/** The fields of `taskSelectList` as columns of a subquery over it (to select them again). */
export const taskFieldList = Object.keys(taskColumns)
  .map((field) => `"${field}"`)
  .join(', ')
