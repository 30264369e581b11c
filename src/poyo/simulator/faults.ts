import { type Static, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { Random } from './random.js'

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()])
const ServerError = Type.Union([Type.Literal(500), Type.Literal(502), Type.Literal(503)])
const Probability = Type.Number({ minimum: 0, maximum: 1 })

/**
 * Every fault switch. Submit faults (hang, final error, 429, 5xx) apply to every submit, or only
 * to the next `submitFailNext` submits when that is a number; likewise status faults and
 * `statusFailNext`. Callback faults are read when a task ends, so switching them affects
 * tasks already running.
 */
export const FaultsSchema = Type.Object({
  /** Submit answers 429 rate_limit_error (with Retry-After when `retryAfterSeconds` is set). */
  submitStatus429: Type.Boolean(),
  /** Retry-After seconds sent with simulated 429 and 503 answers (submit and status). */
  retryAfterSeconds: Nullable(Type.Integer({ minimum: 0 })),
  /** Submit answers this 5xx with PoYo's error type. */
  submitStatus5xx: Nullable(ServerError),
  /** Submit answers a final error: 400/402/403 with a PoYo type (default from the status). */
  submitFinalError: Nullable(
    Type.Object({
      status: Type.Union([Type.Literal(400), Type.Literal(402), Type.Literal(403)]),
      type: Type.Optional(Type.String()),
      message: Type.Optional(Type.String()),
    }),
  ),
  /** null: submit faults apply to every submit. n: only the next n (then they stop); alone it means 503. */
  submitFailNext: Nullable(Type.Integer({ minimum: 0 })),
  /** Create the task, then never answer the submit (the client times out: "ambiguous"). */
  acceptThenHang: Type.Boolean(),
  /** Delay every submit and status answer by this many ms. */
  slowMs: Type.Integer({ minimum: 0 }),
  /** Status answers 429. */
  status429: Type.Boolean(),
  /** Status answers this 5xx. */
  statusStatus5xx: Nullable(ServerError),
  /** Like submitFailNext, for status faults. */
  statusFailNext: Nullable(Type.Integer({ minimum: 0 })),
  /** 404 body for unknown tasks: `{"detail":"Task not found"}` or the `{code, error}` envelope. */
  notFoundEnvelope: Type.Union([Type.Literal('detail'), Type.Literal('error')]),
  /** Send error envelopes (`{code: 4xx/5xx, error}`) with HTTP 200. */
  errorsAsHttp200: Type.Boolean(),
  /** Successful answers miss `task_id` (submit still creates the task). */
  malformedSuccess: Type.Boolean(),
  /** Tasks end `failed`: a probability, or the models that always fail. */
  failTasks: Type.Union([Probability, Type.Array(Type.String())]),
  /** error_message of failed tasks. */
  failMessage: Type.String(),
  /** Probability that a task's callback is never sent. */
  dropCallbacks: Probability,
  /** Send each callback twice. */
  duplicateCallbacks: Type.Boolean(),
  /** Extra delay before a callback's first attempt. */
  delayCallbacksMs: Type.Integer({ minimum: 0 }),
  /** Add a random 0..reorderWindowMs delay per callback, so tasks ending in order report out of it. */
  reorderCallbacks: Type.Boolean(),
  reorderWindowMs: Type.Integer({ minimum: 0 }),
  /** Callback body `{code: 200, data}` (PoYo's pre-July-2026 shape) instead of `data`. */
  wrapCallbacks: Type.Boolean(),
  /** Sign callbacks with a wrong secret. */
  badSignature: Type.Boolean(),
})
export type Faults = Static<typeof FaultsSchema>

export const FaultsPatchSchema = Type.Partial(FaultsSchema, { additionalProperties: false })
export type FaultsPatch = Static<typeof FaultsPatchSchema>

export function defaultFaults(): Faults {
  return {
    submitStatus429: false,
    retryAfterSeconds: null,
    submitStatus5xx: null,
    submitFinalError: null,
    submitFailNext: null,
    acceptThenHang: false,
    slowMs: 0,
    status429: false,
    statusStatus5xx: null,
    statusFailNext: null,
    notFoundEnvelope: 'detail',
    errorsAsHttp200: false,
    malformedSuccess: false,
    failTasks: 0,
    failMessage: 'Video generation failed (simulated)',
    dropCallbacks: 0,
    duplicateCallbacks: false,
    delayCallbacksMs: 0,
    reorderCallbacks: false,
    reorderWindowMs: 500,
    wrapCallbacks: false,
    badSignature: false,
  }
}

/** What a faulty answer should be. */
export type InjectedFailure =
  | { kind: 'hang' }
  | { kind: 'error'; status: number; type?: string; message?: string; retryAfterSeconds: number | null }

export interface FaultState {
  get(): Faults
  /** Merges a patch; throws on an invalid one (the HTTP route validates first). */
  set(patch: FaultsPatch): Faults
  reset(): Faults
  /** The failure the next submit should see, if any (consumes one `submitFailNext`). */
  takeSubmitFailure(): InjectedFailure | null
  takeStatusFailure(): InjectedFailure | null
  shouldFail(model: string, random: Random): boolean
}

export function createFaultState(initial: FaultsPatch = {}): FaultState {
  let faults: Faults = defaultFaults()

  function limited(counter: 'submitFailNext' | 'statusFailNext', chosen: InjectedFailure | null) {
    const remaining = faults[counter]
    if (remaining === null) return chosen
    if (remaining <= 0) return null
    faults = { ...faults, [counter]: remaining - 1 }
    // `submitFailNext: n` alone is shorthand for "the next n answers are 503".
    return chosen ?? { kind: 'error', status: 503, retryAfterSeconds: faults.retryAfterSeconds }
  }

  const state: FaultState = {
    get: () => structuredClone(faults),
    set(patch) {
      const next = { ...faults, ...patch }
      if (!Value.Check(FaultsSchema, next)) {
        const first = [...Value.Errors(FaultsSchema, next)][0]
        throw new Error(`invalid faults: ${first?.path ?? ''} ${first?.message ?? ''}`.trim())
      }
      faults = next
      return structuredClone(faults)
    },
    reset() {
      faults = defaultFaults()
      return structuredClone(faults)
    },
    takeSubmitFailure() {
      const f = faults
      const retryAfterSeconds = f.retryAfterSeconds
      let chosen: InjectedFailure | null = null
      if (f.acceptThenHang) chosen = { kind: 'hang' }
      else if (f.submitFinalError) chosen = { kind: 'error', ...f.submitFinalError, retryAfterSeconds: null }
      else if (f.submitStatus429) chosen = { kind: 'error', status: 429, retryAfterSeconds }
      else if (f.submitStatus5xx !== null)
        chosen = { kind: 'error', status: f.submitStatus5xx, retryAfterSeconds }
      return limited('submitFailNext', chosen)
    },
    takeStatusFailure() {
      const f = faults
      let chosen: InjectedFailure | null = null
      if (f.status429) chosen = { kind: 'error', status: 429, retryAfterSeconds: f.retryAfterSeconds }
      else if (f.statusStatus5xx !== null) {
        chosen = { kind: 'error', status: f.statusStatus5xx, retryAfterSeconds: f.retryAfterSeconds }
      }
      return limited('statusFailNext', chosen)
    },
    shouldFail(model, random) {
      const rule = faults.failTasks
      if (Array.isArray(rule)) return rule.includes(model)
      // Draw only when the switch is on, so turning it on does not shift other random choices.
      return rule > 0 && random.next() < rule
    },
  }
  state.set(initial)
  return state
}
