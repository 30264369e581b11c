import { Type } from '@sinclair/typebox'
import { modelCatalog } from '../models/index.js'

const statusValues = ['queued', 'not_started', 'running', 'finished', 'failed'] as const
export const TaskStatusSchema = Type.Union(
  statusValues.map((status) => Type.Literal(status)),
  { description: 'queued → not_started → running → finished | failed' },
)

const Timestamp = Type.String({ format: 'date-time' })
const NullableTimestamp = Type.Union([Timestamp, Type.Null()])

export const TaskResource = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    model: Type.String(),
    status: TaskStatusSchema,
    input: Type.Record(Type.String(), Type.Unknown(), { description: 'The input exactly as sent to PoYo' }),
    metadata: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    provider_task_id: Type.Union([Type.String(), Type.Null()]),
    progress: Type.Integer({ minimum: 0, maximum: 100 }),
    files: Type.Array(Type.Object({ url: Type.String(), type: Type.String() })),
    error: Type.Union([
      Type.Object({
        code: Type.String(),
        message: Type.String(),
        provider_code: Type.Union([Type.Integer(), Type.Null()]),
        provider_type: Type.Union([Type.String(), Type.Null()]),
      }),
      Type.Null(),
    ]),
    credits: Type.Union([Type.Number(), Type.Null()], {
      description: 'Credits PoYo charged (once finished)',
    }),
    estimated_credits: Type.Integer(),
    webhook_url: Type.Union([Type.String(), Type.Null()]),
    webhook_events: Type.Array(TaskStatusSchema),
    created_at: Timestamp,
    submitted_at: NullableTimestamp,
    started_at: NullableTimestamp,
    finished_at: NullableTimestamp,
    updated_at: Timestamp,
  },
  { $id: 'Task' },
)

export const CreateTaskBody = Type.Object(
  {
    model: Type.String({ description: `One of: ${[...modelCatalog.keys()].join(', ')}` }),
    input: Type.Unknown({ description: "The model's input; see GET /v1/models for each model's schema" }),
    metadata: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'Yours to keep with the task (≤ 16 KB)' }),
    ),
    webhook_url: Type.Optional(Type.String({ maxLength: 2048 })),
    webhook_events: Type.Optional(Type.Array(TaskStatusSchema, { minItems: 1, uniqueItems: true })),
  },
  { additionalProperties: false },
)

export const TaskIdParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'Task id' }) })

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, description: 'Same key and body returns the original task' }),
  ),
})
