import type { Task } from '../generated/prisma/client.js'

/** A task as clients see it (snake_case, the design's Task resource). */
export function toTaskResource(task: Task) {
  return {
    id: task.id,
    model: task.model,
    status: task.status,
    input: task.input as Record<string, unknown>,
    metadata: (task.metadata ?? null) as Record<string, unknown> | null,
    provider_task_id: task.providerTaskId,
    progress: task.progress,
    files: task.files as { url: string; type: string }[],
    error: task.errorCode
      ? {
          code: task.errorCode,
          message: task.errorMessage ?? '',
          provider_code: task.providerErrorCode,
          provider_type: task.providerErrorType,
        }
      : null,
    credits: task.credits,
    estimated_credits: task.estimatedCredits,
    webhook_url: task.webhookUrl,
    webhook_events: task.webhookEvents,
    created_at: task.createdAt.toISOString(),
    submitted_at: task.submittedAt?.toISOString() ?? null,
    started_at: task.startedAt?.toISOString() ?? null,
    finished_at: task.finishedAt?.toISOString() ?? null,
    updated_at: task.updatedAt.toISOString(),
  }
}

export type TaskResource = ReturnType<typeof toTaskResource>

/** A timestamp column as `toISOString` writes it. */
export const isoSql = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`

/**
 * The SQL twin of `toTaskResource` over the row `alias` of `tasks`, for payloads written in
 * the statement that changes the task. test/tasks/resource-sql.test.ts checks the two agree.
 */
export function taskResourceSql(alias: string): string {
  const c = (column: string) => `${alias}.${column}`
  return `jsonb_build_object(
    'id', ${c('id')}, 'model', ${c('model')}, 'status', ${c('status')}, 'input', ${c('input')},
    'metadata', ${c('metadata')}, 'provider_task_id', ${c('provider_task_id')}, 'progress', ${c('progress')},
    'files', ${c('files')},
    'error', CASE WHEN nullif(${c('error_code')}, '') IS NOT NULL THEN jsonb_build_object(
      'code', ${c('error_code')}, 'message', coalesce(${c('error_message')}, ''),
      'provider_code', ${c('provider_error_code')}, 'provider_type', ${c('provider_error_type')}) END,
    'credits', ${c('credits')}, 'estimated_credits', ${c('estimated_credits')},
    'webhook_url', ${c('webhook_url')}, 'webhook_events', coalesce(to_jsonb(${c('webhook_events')}::text[]), '[]'::jsonb),
    'created_at', ${isoSql(c('created_at'))}, 'submitted_at', ${isoSql(c('submitted_at'))},
    'started_at', ${isoSql(c('started_at'))}, 'finished_at', ${isoSql(c('finished_at'))},
    'updated_at', ${isoSql(c('updated_at'))})`
}
