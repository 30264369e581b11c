import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { normalizeTaskInput } from '../../models/index.js'
import { overview, registerAdminRoutes, type SimOverview } from './admin.js'
import { createCallbackSender } from './callbacks.js'
import type { SimContext, ValidateInput } from './context.js'
import { createFaultState, type Faults, type FaultsPatch } from './faults.js'
import { createLifecycle } from './lifecycle.js'
import { createRandom } from './random.js'
import { registerPoyoRoutes } from './routes.js'
import { clearStore, createStore } from './store.js'

export type { SimOverview, SimTaskView } from './admin.js'
export type { ValidateInput, ValidateInputResult } from './context.js'
export { defaultFaults, type Faults, type FaultsPatch, FaultsSchema } from './faults.js'
export type { CallbackAttempt } from './store.js'

export interface SimulatorOptions {
  /** When set, every /api request must carry `Authorization: Bearer <apiKey>` (else 401). */
  apiKey?: string
  /** Signs callbacks (X-Webhook-Timestamp / X-Webhook-Signature); unset sends no signature. */
  webhookSecret?: string
  /** Time from submit to finished/failed. Default 8000. */
  runMs?: number
  /** Time in not_started before running. Default runMs / 10, at most 1000. */
  startDelayMs?: number
  /** Fastify logger setting. Default false. */
  logger?: FastifyServerOptions['logger']
  /** Per-model input check. Default: the service's model catalog (src/models). */
  validateInput?: ValidateInput
  /** Clock for task progress. Timers still run on real time. */
  now?: () => number
  /** Seed for fault probabilities and task ids. Default: random. */
  seed?: number
  /** Delay before each callback retry; the length is the retry count. Default PoYo's: 5, from 60 s to 10 min. */
  callbackRetryDelaysMs?: number[]
  /** How long a callback receiver may take. Default 30000 (PoYo's limit). */
  callbackTimeoutMs?: number
  /** credits_amount when the validator gives no estimate. Default 50. */
  defaultCredits?: number
  /** Where the fake output files live. Default https://files.poyo.sim. */
  fileBaseUrl?: string
  /** Faults switched on from the start. */
  faults?: FaultsPatch
}

export interface SimulatorControl {
  readonly faults: { get(): Faults; set(patch: FaultsPatch): Faults; reset(): Faults }
  /** Tasks, submit counts per model, callback attempts. */
  overview(): SimOverview
  /** Forget all tasks and counters, switch faults off, re-seed. */
  reset(): void
  readonly seed: number
}

export type SimulatorApp = FastifyInstance & { readonly simulator: SimulatorControl }

/** The service's model catalog, as the simulator's per-model check. */
export const catalogValidator: ValidateInput = (model, input) => {
  const result = normalizeTaskInput(model, input)
  if (result.ok) return { ok: true, estimatedCredits: result.estimatedCredits }
  const message = result.violations.map((v) => `${v.pointer || '/'}: ${v.message}`).join('; ')
  return { ok: false, message }
}

const PoyoRetryDelaysMs = [60_000, 120_000, 240_000, 480_000, 600_000]

/** A stand-in for api.poyo.ai speaking its wire format, with switchable faults. */
export function buildSimulator(opts: SimulatorOptions = {}): SimulatorApp {
  const app = Fastify({
    logger: opts.logger ?? false,
    // Reject unknown fault names instead of silently dropping them (Fastify's default).
    ajv: { customOptions: { removeAdditional: false } },
    // A test double must close at once: undici may hold an extra connection that never sent a
    // request, which Node does not count as idle, so 'idle' would wait for the client's keep-alive.
    forceCloseConnections: true,
  })
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32)
  const runMs = Math.max(0, opts.runMs ?? 8000)
  const now = opts.now ?? Date.now
  const store = createStore()
  const lifecycle = createLifecycle()
  const faults = createFaultState(opts.faults)
  const random = createRandom(seed)

  const ctx: SimContext = {
    store,
    faults,
    lifecycle,
    random,
    now,
    apiKey: opts.apiKey,
    runMs,
    startDelayMs: Math.min(runMs, opts.startDelayMs ?? Math.min(1000, Math.round(runMs / 10))),
    defaultCredits: opts.defaultCredits ?? 50,
    fileBaseUrl: opts.fileBaseUrl ?? 'https://files.poyo.sim',
    validateInput: opts.validateInput ?? catalogValidator,
    scheduleCallback: () => {},
    reset() {
      lifecycle.cancelPending()
      clearStore(store)
      faults.reset()
      Object.assign(random, createRandom(seed))
    },
  }
  ctx.scheduleCallback = createCallbackSender({
    store,
    lifecycle,
    faults,
    random,
    now,
    webhookSecret: opts.webhookSecret,
    retryDelaysMs: opts.callbackRetryDelaysMs ?? PoyoRetryDelaysMs,
    timeoutMs: opts.callbackTimeoutMs ?? 30_000,
    fileBaseUrl: ctx.fileBaseUrl,
    log: app.log,
  }).schedule

  const control: SimulatorControl = {
    faults: { get: faults.get, set: faults.set, reset: faults.reset },
    overview: () => overview(ctx),
    reset: ctx.reset,
    seed,
  }
  app.decorate('simulator', control)

  // preClose runs before the server stops accepting: wake slow answers, drop hung sockets and
  // timers, so close() neither waits on them nor leaves anything keeping the process alive.
  app.addHook('preClose', async () => lifecycle.close())
  app.addHook('onClose', async () => lifecycle.close())

  registerPoyoRoutes(app, ctx)
  registerAdminRoutes(app, ctx)
  // The decoration is not visible to Fastify's types; the intersection type names it.
  return app as unknown as SimulatorApp
}
