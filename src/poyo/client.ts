import { type Dispatcher, request } from 'undici'
import { httpError, networkError, type PoyoEndpoint, readErrorBody } from './classify.js'
import { PoyoError } from './errors.js'
import { type PoyoTaskState, PoyoTaskStates, parseCreatedTime } from './wire.js'

/** The part of a pino logger the client uses. */
export interface PoyoClientLogger {
  debug(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
}

export interface PoyoCallReport {
  endpoint: PoyoEndpoint
  /** `ok`, or the PoyoError kind. */
  outcome: string
  durationMs: number
  httpStatus?: number
}

export interface PoyoClientOptions {
  baseUrl: string
  apiKey: string
  timeoutMs: number
  logger?: PoyoClientLogger
  /** Called once per call, success or not (for metrics). */
  onCall?: (call: PoyoCallReport) => void
}

export interface PoyoFile {
  url: string
  type: string
}

export interface PoyoTaskStatus {
  taskId: string
  status: PoyoTaskState
  progress: number
  files: PoyoFile[]
  createdTime: Date | null
  errorMessage: string | null
  creditsAmount: number | null
}

export interface PoyoSubmitRequest {
  model: string
  input: Record<string, unknown>
  callbackUrl?: string
}

export interface PoyoSubmitResult {
  taskId: string
  status: string
  createdTime: Date | null
}

export interface PoyoClient {
  submit(req: PoyoSubmitRequest): Promise<PoyoSubmitResult>
  status(taskId: string): Promise<PoyoTaskStatus>
}

type Json = Record<string, unknown>

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function createPoyoClient(opts: PoyoClientOptions): PoyoClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '')
  const { apiKey, timeoutMs, logger } = opts

  // PoYo (or a proxy) could echo the key back in a message; never let it into errors or logs.
  const scrub = (text: string): string => (apiKey.length >= 4 ? text.split(apiKey).join('[redacted]') : text)

  function scrubbed(err: PoyoError): PoyoError {
    if (!err.message.includes(apiKey) || apiKey.length < 4) return err
    return new PoyoError({
      kind: err.kind,
      message: scrub(err.message),
      cause: err.cause,
      ...(err.httpStatus === undefined ? {} : { httpStatus: err.httpStatus }),
      ...(err.code === undefined ? {} : { code: err.code }),
      ...(err.type === undefined ? {} : { type: err.type }),
      ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
    })
  }

  function report(endpoint: PoyoEndpoint, outcome: string, started: number, httpStatus?: number): void {
    const durationMs = Math.round(performance.now() - started)
    try {
      opts.onCall?.({ endpoint, outcome, durationMs, ...(httpStatus === undefined ? {} : { httpStatus }) })
    } catch {
      // Metrics must never break a call.
    }
  }

  /** One HTTP exchange; resolves with the `data` of a successful envelope, or throws a PoyoError. */
  async function call(endpoint: PoyoEndpoint, path: string, body?: Json): Promise<unknown> {
    const started = performance.now()
    let httpStatus: number | undefined
    try {
      // undici's request (its global keep-alive agent), not fetch: fetch's WHATWG streams and
      // response objects cost the submit worker and the poller more CPU than the exchange.
      let res: Dispatcher.ResponseData
      try {
        res = await request(`${baseUrl}${path}`, {
          method: body === undefined ? 'GET' : 'POST',
          headers: {
            authorization: `Bearer ${apiKey}`,
            accept: 'application/json',
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          signal: AbortSignal.timeout(timeoutMs),
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
      } catch (err) {
        throw networkError({ endpoint, err, timeoutMs })
      }
      httpStatus = res.statusCode
      const ok = httpStatus >= 200 && httpStatus < 300
      let raw = ''
      try {
        raw = await res.body.text()
      } catch (err) {
        // Headers came but the body was cut off: for an error status the status is enough;
        // for a 200 the outcome is unknown (on submit: the task may exist).
        if (ok) throw networkError({ endpoint, err, timeoutMs })
      }
      let parsed: unknown
      try {
        parsed = raw === '' ? undefined : JSON.parse(raw)
      } catch {
        parsed = undefined
      }
      const bodyCode = isRecord(parsed) && typeof parsed['code'] === 'number' ? parsed['code'] : undefined
      if (!ok || (bodyCode !== undefined && bodyCode >= 400)) {
        const retryAfter = res.headers['retry-after']
        throw httpError({
          endpoint,
          httpStatus,
          effectiveStatus: ok ? (bodyCode as number) : httpStatus,
          info: readErrorBody(parsed, raw),
          retryAfterHeader: (Array.isArray(retryAfter) ? retryAfter[0] : retryAfter) ?? null,
          nowMs: Date.now(),
        })
      }
      if (!isRecord(parsed) || !isRecord(parsed['data'])) {
        throw malformed(endpoint, httpStatus, raw === '' ? 'empty body' : 'no `data` object')
      }
      logger?.debug(
        { endpoint, httpStatus, durationMs: Math.round(performance.now() - started) },
        'poyo call',
      )
      report(endpoint, 'ok', started, httpStatus)
      return parsed['data']
    } catch (caught) {
      const err = scrubbed(
        caught instanceof PoyoError
          ? caught
          : new PoyoError({ kind: 'retryable', message: scrub(String(caught)), cause: caught }),
      )
      const durationMs = Math.round(performance.now() - started)
      logger?.warn(
        {
          endpoint,
          kind: err.kind,
          httpStatus,
          code: err.code,
          type: err.type,
          durationMs,
          err: err.message,
        },
        'poyo call failed',
      )
      report(endpoint, err.kind, started, httpStatus)
      throw err
    }
  }

  return {
    async submit(req) {
      const data = await call('submit', '/api/generate/submit', {
        model: req.model,
        input: req.input,
        ...(req.callbackUrl === undefined ? {} : { callback_url: req.callbackUrl }),
      })
      const taskId = isRecord(data) ? data['task_id'] : undefined
      if (typeof taskId !== 'string' || taskId === '') {
        // PoYo said 200, so a task probably exists even though we cannot name it: ambiguous,
        // not retryable, or a resubmit could bill twice.
        throw malformed('submit', 200, 'data.task_id is missing or not a string')
      }
      const rec = data as Json
      return {
        taskId,
        status: typeof rec['status'] === 'string' ? rec['status'] : 'not_started',
        createdTime: parseCreatedTime(rec['created_time']),
      }
    },

    async status(taskId) {
      const data = await call('status', `/api/generate/status/${encodeURIComponent(taskId)}`)
      const parsed = parseStatusData(data as Json)
      if (typeof parsed === 'string') throw malformed('status', 200, parsed)
      return parsed
    },
  }
}

function malformed(endpoint: PoyoEndpoint, httpStatus: number, why: string): PoyoError {
  return new PoyoError({
    kind: endpoint === 'submit' ? 'ambiguous' : 'retryable',
    message: `PoYo ${endpoint} answered HTTP ${httpStatus} with a malformed body: ${why}`,
    httpStatus,
  })
}

/** Reads a status `data` object; returns a reason string when it cannot be trusted. */
export function parseStatusData(data: Json): PoyoTaskStatus | string {
  const taskId = data['task_id']
  if (typeof taskId !== 'string' || taskId === '') return 'data.task_id is missing or not a string'
  const status = data['status']
  if (typeof status !== 'string' || !(PoyoTaskStates as readonly string[]).includes(status)) {
    return `data.status ${JSON.stringify(status)} is not a known task status`
  }
  const rawFiles = data['files'] ?? []
  if (!Array.isArray(rawFiles)) return 'data.files is not an array'
  const files: PoyoFile[] = []
  for (const file of rawFiles) {
    if (!isRecord(file) || typeof file['file_url'] !== 'string') return 'a file has no file_url'
    files.push({
      url: file['file_url'],
      type: typeof file['file_type'] === 'string' ? file['file_type'] : 'other',
    })
  }
  const progress = data['progress']
  const credits = data['credits_amount']
  const errorMessage = data['error_message']
  return {
    taskId,
    status: status as PoyoTaskState,
    progress:
      typeof progress === 'number' && Number.isFinite(progress)
        ? Math.min(100, Math.max(0, progress))
        : status === 'finished'
          ? 100
          : 0,
    files,
    createdTime: parseCreatedTime(data['created_time']),
    errorMessage: typeof errorMessage === 'string' && errorMessage !== '' ? errorMessage : null,
    creditsAmount: typeof credits === 'number' && Number.isFinite(credits) ? credits : null,
  }
}
