import { PoyoError, type PoyoErrorKind } from './errors.js'

export type PoyoEndpoint = 'submit' | 'status'

/** What an error body said, read from either of PoYo's envelopes or from plain text. */
export interface ErrorBodyInfo {
  message?: string
  type?: string
  code?: number
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `{code, error: {message, type}}`, `{detail: string | [{msg, loc}]}`, or anything else. */
export function readErrorBody(parsed: unknown, raw: string): ErrorBodyInfo {
  const info: ErrorBodyInfo = {}
  if (isRecord(parsed)) {
    if (typeof parsed['code'] === 'number') info.code = parsed['code']
    const error = parsed['error']
    if (isRecord(error)) {
      if (typeof error['message'] === 'string') info.message = error['message']
      if (typeof error['type'] === 'string') info.type = error['type']
    } else if (typeof error === 'string') {
      info.message = error
    }
    const detail = parsed['detail']
    if (info.message === undefined && typeof detail === 'string') info.message = detail
    if (info.message === undefined && Array.isArray(detail)) info.message = describeDetailList(detail)
    if (info.message === undefined && typeof parsed['message'] === 'string') info.message = parsed['message']
    if (info.message === undefined && typeof parsed['msg'] === 'string') info.message = parsed['msg']
  } else if (raw.trim() !== '') {
    // Proxies and load balancers answer HTML or plain text; a short excerpt is enough.
    info.message = raw.trim().replace(/\s+/g, ' ').slice(0, 200)
  }
  return info
}

/** FastAPI-style validation list: `[{loc: ['body','input','duration'], msg: '...'}]`. */
function describeDetailList(items: unknown[]): string {
  const parts = items.map((item) => {
    if (!isRecord(item)) return String(item)
    const msg = typeof item['msg'] === 'string' ? item['msg'] : JSON.stringify(item)
    const loc = Array.isArray(item['loc']) ? item['loc'].join('.') : ''
    return loc ? `${loc}: ${msg}` : msg
  })
  return parts.join('; ') || 'request rejected'
}

/** `Retry-After` as delta-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, nowMs: number): number | undefined {
  if (header === null || header.trim() === '') return undefined
  const text = header.trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000)
  const at = Date.parse(text)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - nowMs)
}

function kindForStatus(endpoint: PoyoEndpoint, status: number): PoyoErrorKind {
  if (status === 401) return 'auth'
  if (status === 404 && endpoint === 'status') return 'not_found'
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retryable'
  // 400/402/403 and any other 4xx (a 404 on submit means a wrong base URL): retrying cannot help.
  if (status >= 400) return 'final'
  return 'retryable'
}

/**
 * An error answer. `effectiveStatus` is the HTTP status, or the body's `code` when PoYo said
 * HTTP 200 but `code >= 400` (its docs ask clients to check both).
 */
export function httpError(args: {
  endpoint: PoyoEndpoint
  httpStatus: number
  effectiveStatus: number
  info: ErrorBodyInfo
  retryAfterHeader: string | null
  nowMs: number
}): PoyoError {
  const { endpoint, httpStatus, effectiveStatus, info } = args
  const kind = kindForStatus(endpoint, effectiveStatus)
  const retryAfterMs = kind === 'retryable' ? parseRetryAfter(args.retryAfterHeader, args.nowMs) : undefined
  const message =
    info.message ??
    (httpStatus === effectiveStatus
      ? `PoYo ${endpoint} answered HTTP ${httpStatus} without an error message`
      : `PoYo ${endpoint} answered HTTP ${httpStatus} with error code ${effectiveStatus}`)
  return new PoyoError({
    kind,
    message,
    httpStatus,
    code: info.code ?? effectiveStatus,
    ...(info.type === undefined ? {} : { type: info.type }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  })
}

/**
 * Errors raised while the connection was being set up: undici reports them in `err.code` (or,
 * wrapped, in `err.cause.code`) and they mean no byte of the request reached PoYo, so a submit
 * is safe to send again.
 */
const CONNECT_FAILURE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
])

function errorCodes(err: unknown): string[] {
  if (!isRecord(err) && !(err instanceof Error)) return []
  const e = err as { code?: unknown; errors?: unknown }
  // Happy-eyeballs connects (several addresses) fail with an AggregateError holding each attempt.
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    return e.errors.map((inner) => String((inner as { code?: unknown } | null)?.code ?? ''))
  }
  return typeof e.code === 'string' ? [e.code] : []
}

/** The codes of the error, or of its cause when it has none of its own. */
function failureCodes(err: unknown): string[] {
  const own = errorCodes(err)
  return own.length > 0 ? own : errorCodes((err as { cause?: unknown } | null)?.cause)
}

export function isConnectFailure(err: unknown): boolean {
  const codes = failureCodes(err)
  return codes.length > 0 && codes.every((code) => CONNECT_FAILURE_CODES.has(code))
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')
}

/**
 * A call that got no HTTP answer. The heuristic, given what undici exposes:
 * - connect failures (see CONNECT_FAILURE_CODES) → retryable: nothing reached PoYo;
 * - our own timeout → for status, retryable; for submit, ambiguous: undici does not say whether the
 *   connection was up and the body sent, and a small JSON body goes out right after connecting, so
 *   assume PoYo got it (undici's own connect timeout, 10 s, surfaces as UND_ERR_CONNECT_TIMEOUT);
 * - anything else (socket reset or closed mid-request, body cut off) → for submit, ambiguous.
 */
export function networkError(args: { endpoint: PoyoEndpoint; err: unknown; timeoutMs: number }): PoyoError {
  const { endpoint, err, timeoutMs } = args
  const codes = failureCodes(err)
  const detail = codes.length > 0 ? codes.join(', ') : err instanceof Error ? err.message : String(err)
  if (isConnectFailure(err)) {
    return new PoyoError({
      kind: 'retryable',
      message: `PoYo ${endpoint}: could not connect (${detail}); nothing was sent`,
      cause: err,
    })
  }
  const timedOut = isTimeout(err)
  const what = timedOut ? `no answer within ${timeoutMs} ms` : `connection lost before an answer (${detail})`
  if (endpoint === 'submit') {
    return new PoyoError({
      kind: 'ambiguous',
      message: `PoYo submit: ${what}; PoYo may have created the task, do not resubmit blindly`,
      cause: err,
    })
  }
  return new PoyoError({ kind: 'retryable', message: `PoYo ${endpoint}: ${what}`, cause: err })
}
