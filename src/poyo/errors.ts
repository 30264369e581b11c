/**
 * How the caller should react to a failed PoYo call:
 * - `retryable`: nothing was created (or it was a read); try again later, honouring `retryAfterMs`.
 * - `final`: PoYo rejected the request (400/402/403); retrying cannot help.
 * - `ambiguous`: a submit was sent but no usable answer came back; PoYo may have created (and will
 *   bill) the task, so the caller must not blindly resubmit.
 * - `not_found`: the status endpoint does not know the task.
 * - `auth`: our API key was refused (401): an operator problem, retry once it is fixed.
 */
export type PoyoErrorKind = 'retryable' | 'final' | 'ambiguous' | 'not_found' | 'auth'

export interface PoyoErrorFields {
  kind: PoyoErrorKind
  message: string
  httpStatus?: number
  /** The body's `code`, when PoYo sent one. */
  code?: number
  /** PoYo's error type, e.g. `insufficient_credits_error`. */
  type?: string
  retryAfterMs?: number
  cause?: unknown
}

export class PoyoError extends Error {
  readonly kind: PoyoErrorKind
  readonly httpStatus?: number
  readonly code?: number
  readonly type?: string
  readonly retryAfterMs?: number

  constructor(fields: PoyoErrorFields) {
    super(fields.message, fields.cause === undefined ? undefined : { cause: fields.cause })
    this.name = 'PoyoError'
    this.kind = fields.kind
    if (fields.httpStatus !== undefined) this.httpStatus = fields.httpStatus
    if (fields.code !== undefined) this.code = fields.code
    if (fields.type !== undefined) this.type = fields.type
    if (fields.retryAfterMs !== undefined) this.retryAfterMs = fields.retryAfterMs
  }

  /** Plain data for logs and task events (the cause is left out: it may hold request details). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      httpStatus: this.httpStatus,
      code: this.code,
      type: this.type,
      retryAfterMs: this.retryAfterMs,
    }
  }
}

export function isPoyoError(value: unknown): value is PoyoError {
  return value instanceof PoyoError
}
