import type { FastifyReply } from 'fastify'
import { errorEnvelope, errorTypeByStatus } from '../wire.js'
import type { FaultState } from './faults.js'
import type { Lifecycle } from './lifecycle.js'
import type { Random } from './random.js'
import type { SimStore, SimTask } from './store.js'

export type ValidateInputResult = { ok: true; estimatedCredits?: number } | { ok: false; message: string }
export type ValidateInput = (model: string, input: unknown) => ValidateInputResult

/** What the route modules share: built once per simulator in index.ts. */
export interface SimContext {
  store: SimStore
  faults: FaultState
  lifecycle: Lifecycle
  random: Random
  now: () => number
  apiKey: string | undefined
  runMs: number
  startDelayMs: number
  defaultCredits: number
  fileBaseUrl: string
  validateInput: ValidateInput
  scheduleCallback(task: SimTask): void
  /** Clears tasks, counters, faults, pending timers and re-seeds the random source. */
  reset(): void
}

const defaultMessages: Readonly<Record<number, string>> = {
  400: 'Invalid request',
  401: 'Invalid or missing API key',
  402: 'Insufficient credits',
  403: 'Model is not enabled for this API key',
  404: 'Resource not found',
  408: 'Request timed out',
  429: 'Rate limit exceeded, please slow down',
  500: 'Internal server error',
  502: 'Upstream provider error',
  503: 'Service temporarily unavailable',
}

/** Answers in PoYo's `{code, error: {message, type}}` envelope. */
export function sendPoyoError(
  ctx: SimContext,
  reply: FastifyReply,
  error: { status: number; type?: string; message?: string; retryAfterSeconds?: number | null },
): FastifyReply {
  const { status } = error
  if (error.retryAfterSeconds != null && (status === 429 || status === 503)) {
    reply.header('retry-after', String(error.retryAfterSeconds))
  }
  const body = errorEnvelope(
    status,
    error.type ?? errorTypeByStatus[status] ?? 'internal_error',
    error.message ?? defaultMessages[status] ?? 'Request failed',
  )
  // `errorsAsHttp200`: some PoYo answers carry the error only in the body's `code`.
  return reply.code(ctx.faults.get().errorsAsHttp200 ? 200 : status).send(body)
}
