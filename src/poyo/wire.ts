import { type Static, Type } from '@sinclair/typebox'

/**
 * PoYo's wire format (snake_case), shared by the client (to read it) and the simulator (to speak it).
 * The schemas describe what the simulator sends; the client reads more leniently (see client.ts).
 */

export const PoyoTaskStates = ['not_started', 'running', 'finished', 'failed'] as const
export type PoyoTaskState = (typeof PoyoTaskStates)[number]

export const SubmitBodySchema = Type.Object({
  model: Type.String({ minLength: 1 }),
  callback_url: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  input: Type.Object({}, { additionalProperties: true }),
})
export type SubmitBody = Static<typeof SubmitBodySchema>

export const SubmitDataSchema = Type.Object({
  task_id: Type.String(),
  status: Type.String(),
  created_time: Type.String(),
})
export type SubmitData = Static<typeof SubmitDataSchema>

export const WireFileSchema = Type.Object(
  {
    file_url: Type.String(),
    file_type: Type.String(),
    file_name: Type.Optional(Type.String()),
    label: Type.Optional(Type.String()),
    format: Type.Optional(Type.String()),
    content_type: Type.Optional(Type.String()),
    file_size: Type.Optional(Type.Number()),
  },
  { additionalProperties: true },
)
export type WireFile = Static<typeof WireFileSchema>

export const StatusDataSchema = Type.Object({
  task_id: Type.String(),
  status: Type.Union(PoyoTaskStates.map((s) => Type.Literal(s))),
  progress: Type.Number(),
  files: Type.Array(WireFileSchema),
  created_time: Type.String(),
  error_message: Type.Union([Type.String(), Type.Null()]),
  credits_amount: Type.Number(),
})
export type StatusData = Static<typeof StatusDataSchema>

export const ErrorEnvelopeSchema = Type.Object({
  code: Type.Integer(),
  error: Type.Object({ message: Type.String(), type: Type.String() }),
})
export type ErrorEnvelope = Static<typeof ErrorEnvelopeSchema>

export const DetailEnvelopeSchema = Type.Object({
  detail: Type.Union([Type.String(), Type.Array(Type.Unknown())]),
})

export function okEnvelope<T>(data: T): { code: 200; data: T } {
  return { code: 200, data }
}

export function errorEnvelope(code: number, type: string, message: string): ErrorEnvelope {
  return { code, error: { message, type } }
}

/** PoYo's error `type` for each status code it documents. */
export const errorTypeByStatus: Readonly<Record<number, string>> = {
  400: 'validation_error',
  401: 'authentication_error',
  402: 'insufficient_credits_error',
  403: 'permission_denied_error',
  404: 'resource_not_found_error',
  408: 'timeout_error',
  429: 'rate_limit_error',
  500: 'internal_error',
  502: 'upstream_error',
  503: 'service_error',
}

/** `2025-11-12T10:30:00`: PoYo's format, UTC without a zone designator. */
export function formatCreatedTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19)
}

/**
 * Reads `created_time`. PoYo sends no zone (it means UTC), so one is added when missing;
 * an explicit zone is respected. Unparseable or absent → null (the time is informative only).
 */
export function parseCreatedTime(value: unknown): Date | null {
  if (typeof value === 'number' && Number.isFinite(value)) {
    // Unix seconds or milliseconds: no PoYo source shows this, but it costs nothing to accept.
    return new Date(value < 1e12 ? value * 1000 : value)
  }
  if (typeof value !== 'string') return null
  const text = value.trim().replace(' ', 'T')
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?/.test(text)) return null
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(text)
  const dateOnly = !text.includes('T')
  const date = new Date(hasZone ? text : `${text}${dateOnly ? 'T00:00:00' : ''}Z`)
  return Number.isNaN(date.getTime()) ? null : date
}
