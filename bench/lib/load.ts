import autocannon from 'autocannon'
import { Client } from 'undici'
import { type LoadOptions, type LoadResult, percentiles, type Step } from './latency.js'
import { fireSockets } from './socket-load.js'
import { fireWrk } from './wrk-load.js'

export { type Latency, type LoadOptions, type LoadResult, median, percentiles, type Step } from './latency.js'

/** A step as an autocannon request. */
export function toRequest(step: Step) {
  return {
    method: step.method ?? 'GET',
    path: step.path,
    headers: { ...(step.body ? { 'content-type': 'application/json' } : {}), ...step.headers },
    ...(step.body ? { body: step.body } : {}),
  }
}

export const loadGenerators = ['wrk', 'sockets', 'autocannon'] as const
export type LoadGenerator = (typeof loadGenerators)[number]
let generator: LoadGenerator = 'sockets'

/** The load generator of every `fire` from now on (the bench's --load-generator). */
export function useLoadGenerator(name: LoadGenerator): void {
  generator = name
}

/** Many connections in a closed loop for a bounded time: 2xx throughput and 2xx latencies. */
export function fire(options: LoadOptions): Promise<LoadResult> {
  switch (generator) {
    case 'wrk':
      // wrk neither stops at a count nor reports each answer: those runs take the sockets.
      return options.amount || options.onResponse ? fireSockets(options) : fireWrk(options)
    case 'sockets':
      return fireSockets(options)
    case 'autocannon':
      return fireAutocannon(options)
  }
}

/** `fire` through autocannon. */
async function fireAutocannon(options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = []
  let non2xx = 0
  let responses = 0
  const step = options.step
  const started = process.hrtime.bigint()
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.base,
        connections: options.connections,
        // With `amount`, autocannon ignores the duration: the guard below still bounds the run.
        duration: options.seconds,
        ...(options.amount ? { amount: options.amount } : {}),
        timeout: 30,
        requests: [typeof step === 'function' ? { setupRequest: () => toRequest(step()) } : toRequest(step)],
      },
      (error, done) => {
        clearTimeout(guard)
        if (error) reject(error)
        else resolve(done)
      },
    )
    const guard = setTimeout(() => instance.stop(), (options.seconds + 30) * 1000)
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      responses++
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime)
      else non2xx++
    })
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return {
    ...percentiles(latencies),
    requests: responses,
    rps: latencies.length / seconds,
    non2xx,
    errors: result.errors + result.timeouts,
    connections: options.connections,
    seconds,
  }
}

/**
 * One keep-alive connection, one request at a time, for `seconds`: the latency of a request
 * on its own (timed here at full precision, body read included), not of a queue.
 */
export function sequential(base: string, seconds: number, step: Step | (() => Step)): Promise<LoadResult> {
  return oneConnection(base, seconds, null, step)
}

/**
 * One keep-alive connection at a steady `perSecond`: request i is due at start + i/perSecond
 * and is sent then (or, if the one before is still out, as soon as it is back). Latency runs
 * from the due time, so a request held up by a slow one before it counts its wait too.
 * Below saturation this is the latency of a request on a service under that load, where
 * back-to-back requests (`sequential`) load it as fast as it answers.
 */
export function paced(
  base: string,
  seconds: number,
  perSecond: number,
  step: Step | (() => Step),
): Promise<LoadResult> {
  return oneConnection(base, seconds, perSecond, step)
}

/** Back to back (`perSecond` null) or paced, for `seconds`. */
async function oneConnection(
  base: string,
  seconds: number,
  perSecond: number | null,
  step: Step | (() => Step),
): Promise<LoadResult> {
  const client = new Client(base, { pipelining: 1 })
  const latencies: number[] = []
  let non2xx = 0
  let errors = 0
  const started = process.hrtime.bigint()
  const stopAt = started + BigInt(Math.round(seconds * 1e9))
  const intervalNs = perSecond === null ? null : BigInt(Math.round(1e9 / perSecond))
  try {
    for (let i = 0; ; i++) {
      const due = intervalNs === null ? process.hrtime.bigint() : started + BigInt(i) * intervalNs
      if (due >= stopAt) break
      const waitMs = Number(due - process.hrtime.bigint()) / 1e6
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs))
      const next = toRequest(typeof step === 'function' ? step() : step)
      try {
        const response = await client.request({ ...next, method: next.method as 'GET' | 'POST' })
        await response.body.arrayBuffer()
        if (response.statusCode >= 200 && response.statusCode < 300)
          latencies.push(Number(process.hrtime.bigint() - due) / 1e6)
        else non2xx++
      } catch {
        errors++
      }
    }
  } finally {
    await client.close()
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9
  return {
    ...percentiles(latencies),
    requests: latencies.length + non2xx,
    rps: latencies.length / elapsed,
    non2xx,
    errors,
    connections: 1,
    seconds: elapsed,
  }
}

/** Sends one request and returns its parsed JSON body (throws on a non-2xx answer). */
export async function call<T = unknown>(base: string, step: Step): Promise<T> {
  const response = await fetch(base + step.path, {
    method: step.method ?? 'GET',
    headers: { ...(step.body ? { 'content-type': 'application/json' } : {}), ...step.headers },
    ...(step.body ? { body: step.body } : {}),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${step.method ?? 'GET'} ${step.path}: ${response.status} ${text}`)
  return JSON.parse(text) as T
}
