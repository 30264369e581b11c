import { Type } from '@sinclair/typebox'
import { TaskResource, TaskStatusSchema } from './task.js'

const Timestamp = Type.String({ format: 'date-time' })

/** The largest page a list returns. */
export const listLimitMax = 100
const ListLimit = Type.Integer({ minimum: 1, maximum: listLimitMax, default: 20, description: 'Page size' })

export const ListTasksQuery = Type.Object(
  {
    status: Type.Optional(
      Type.Array(TaskStatusSchema, {
        description: 'Repeat to match any of several statuses (`?status=running&status=queued`)',
      }),
    ),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Exact model id' })),
    created_after: Type.Optional(
      Type.String({ format: 'date-time', description: 'Created at or after this instant (inclusive)' }),
    ),
    created_before: Type.Optional(
      Type.String({ format: 'date-time', description: 'Created before this instant (exclusive)' }),
    ),
    client: Type.Optional(
      Type.String({
        format: 'uuid',
        description: 'Admin keys only: the id of the API key that created the task',
      }),
    ),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'Case-insensitive substring of the prompt (or of any multi_prompt prompt)',
      }),
    ),
    limit: Type.Optional(ListLimit),
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 512,
        pattern: '^[A-Za-z0-9_-]+$',
        description: '`next_cursor` of the previous page, used with the same filters',
      }),
    ),
  },
  { additionalProperties: false },
)

export const TaskList = Type.Object({
  data: Type.Array(TaskResource),
  next_cursor: Type.Union([Type.String(), Type.Null()], {
    description: 'Pass as `cursor` for the next (older) page; null on the last page',
  }),
})

export const TaskEventResource = Type.Object({
  id: Type.String({
    pattern: '^[0-9]+$',
    description: 'Increasing event id (a 64-bit integer, as a string)',
  }),
  type: Type.Union(
    ['created', 'submit_attempt', 'callback', 'poll', 'status_changed', 'ignored_update'].map((type) =>
      Type.Literal(type),
    ),
  ),
  source: Type.Union(['api', 'submitter', 'callback', 'poller', 'system'].map((s) => Type.Literal(s))),
  from_status: Type.Union([TaskStatusSchema, Type.Null()]),
  to_status: Type.Union([TaskStatusSchema, Type.Null()]),
  payload: Type.Unknown({ description: 'What the event recorded (request, answer, callback body...)' }),
  created_at: Timestamp,
})

export const TaskEventList = Type.Object({ data: Type.Array(TaskEventResource) })

export const StatsQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({ format: 'date-time', description: 'Window start (inclusive); default `to` minus 24 h' }),
    ),
    to: Type.Optional(
      Type.String({ format: 'date-time', description: 'Window end (exclusive); default now' }),
    ),
    bucket: Type.Optional(
      Type.Union([Type.Literal('hour'), Type.Literal('day')], {
        description: 'Series bucket (UTC); default `hour` up to 48 h windows, else `day`',
      }),
    ),
  },
  { additionalProperties: false },
)

const Rate = Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], {
  description: 'finished / (finished + failed); null when neither happened',
})
const Seconds = Type.Union([Type.Number(), Type.Null()])

const StatusCounts = Type.Object({
  queued: Type.Integer(),
  not_started: Type.Integer(),
  running: Type.Integer(),
  finished: Type.Integer(),
  failed: Type.Integer(),
})

export const Stats = Type.Object({
  from: Timestamp,
  to: Timestamp,
  bucket: Type.Union([Type.Literal('hour'), Type.Literal('day')]),
  total: Type.Integer({ description: 'Tasks created in the window' }),
  by_status: StatusCounts,
  success_rate: Rate,
  credits: Type.Number({ description: 'Credits charged for the tasks created in the window' }),
  by_model: Type.Array(
    Type.Object({
      model: Type.String(),
      total: Type.Integer(),
      by_status: StatusCounts,
      success_rate: Rate,
      credits: Type.Number(),
      p50_seconds: Seconds,
      p95_seconds: Seconds,
    }),
    {
      description:
        'Per model, for tasks created in the window; durations are submit → finish. p50/p95 come from log-spaced histograms (32 bins per doubling, each keeping its min and max) and are within 2.2% of the exact percentile (percentile_cont), exact when no bin involved holds more than two durations; every count and credit sum is exact.',
    },
  ),
  series: Type.Array(
    Type.Object({
      start: Timestamp,
      created: Type.Integer({ description: 'Tasks created in this bucket' }),
      finished: Type.Integer({ description: 'Tasks that finished in this bucket' }),
      failed: Type.Integer({ description: 'Tasks that failed in this bucket' }),
    }),
    { description: 'Every bucket of the window, empty ones included (clipped to the window)' },
  ),
})

export const StreamQuery = Type.Object(
  {
    access_token: Type.Optional(
      Type.String({ description: 'The API key, for EventSource clients (they cannot set Authorization)' }),
    ),
    heartbeat: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 60,
        default: 15,
        description: 'Seconds between heartbeat comments (for proxies with short idle timeouts)',
      }),
    ),
  },
  { additionalProperties: false },
)

export const StreamHeaders = Type.Object({
  'last-event-id': Type.Optional(
    Type.String({ pattern: '^[0-9]{1,19}$', description: 'Resume after this event id' }),
  ),
})

export const StreamMessage = Type.String({
  description:
    'text/event-stream. Each change is `id: <event id>`, `event: task`, `data: {"task": Task, "event": TaskEvent}`. Comment lines are heartbeats.',
})
