import type { FastifyBaseLogger } from 'fastify'
import { request } from 'undici'
import { signPoyoCallback } from '../signature.js'
import { okEnvelope } from '../wire.js'
import type { FaultState } from './faults.js'
import type { Lifecycle } from './lifecycle.js'
import type { Random } from './random.js'
import { type SimStore, type SimTask, snapshot, terminalAtMs } from './store.js'

export interface CallbackSenderDeps {
  store: SimStore
  lifecycle: Lifecycle
  faults: FaultState
  random: Random
  now: () => number
  webhookSecret: string | undefined
  /** Delay before each retry; its length is the number of retries. */
  retryDelaysMs: readonly number[]
  timeoutMs: number
  fileBaseUrl: string
  log: FastifyBaseLogger
}

/**
 * PoYo's callback behaviour: one POST when a task becomes finished or failed (never for
 * progress), retried on non-2xx or no answer, then given up (the receiver must poll).
 */
export function createCallbackSender(deps: CallbackSenderDeps): { schedule(task: SimTask): void } {
  const { store, lifecycle, faults, random } = deps

  function headersFor(taskId: string): Record<string, string> {
    const f = faults.get()
    if (deps.webhookSecret === undefined && !f.badSignature) return {}
    const timestamp = Math.floor(deps.now() / 1000)
    const secret = f.badSignature
      ? `${deps.webhookSecret ?? ''}-not-the-secret`
      : (deps.webhookSecret as string)
    return {
      'x-webhook-timestamp': String(timestamp),
      'x-webhook-signature': signPoyoCallback(secret, taskId, timestamp),
    }
  }

  async function attempt(task: SimTask, copy: number, n: number): Promise<void> {
    if (lifecycle.closed || store.tasks.get(task.id) !== task) return
    const data = snapshot(task, Math.max(deps.now(), terminalAtMs(task)), deps.fileBaseUrl)
    const wrapped = faults.get().wrapCallbacks
    let httpStatus: number | null = null
    let error: string | null = null
    try {
      // undici's request rather than fetch: in the benches the simulator shares the cores
      // with the service it calls, and fetch costs several times the CPU.
      const res = await request(task.callbackUrl as string, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headersFor(task.id) },
        body: JSON.stringify(wrapped ? okEnvelope(data) : data),
        signal: AbortSignal.any([lifecycle.signal(), AbortSignal.timeout(deps.timeoutMs)]),
      })
      httpStatus = res.statusCode
      await res.body.dump()
    } catch (err) {
      error = err instanceof Error ? err.message : String(err)
    }
    if (lifecycle.closed || store.tasks.get(task.id) !== task) return
    const ok = httpStatus !== null && httpStatus >= 200 && httpStatus < 300
    store.callbacks.push({
      taskId: task.id,
      attempt: n,
      copy,
      atMs: deps.now(),
      wrapped,
      httpStatus,
      error,
      ok,
    })
    if (ok) return
    const retryIn = deps.retryDelaysMs[n - 1]
    deps.log.info(
      { taskId: task.id, attempt: n, httpStatus, error, retryIn },
      'simulator: callback not accepted',
    )
    if (retryIn !== undefined) lifecycle.setTimer(() => void attempt(task, copy, n + 1), retryIn)
  }

  function onTerminal(task: SimTask): void {
    if (store.tasks.get(task.id) !== task) return
    const f = faults.get()
    if (f.dropCallbacks > 0 && random.next() < f.dropCallbacks) {
      store.droppedCallbacks.push(task.id)
      return
    }
    const jitter = f.reorderCallbacks ? Math.floor(random.next() * f.reorderWindowMs) : 0
    const copies = f.duplicateCallbacks ? 2 : 1
    lifecycle.setTimer(() => {
      // Copies go out together: the receiver has to cope with concurrent duplicates.
      for (let copy = 1; copy <= copies; copy++) void attempt(task, copy, 1)
    }, f.delayCallbacksMs + jitter)
  }

  return {
    schedule(task) {
      if (task.callbackUrl === null) return
      lifecycle.setTimer(() => onTerminal(task), Math.max(0, terminalAtMs(task) - deps.now()))
    },
  }
}
