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
