import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { createPoyoClient, type PoyoClient, type PoyoClientOptions } from '../../src/poyo/client.js'
import { PoyoError } from '../../src/poyo/errors.js'
import { buildSimulator, type SimulatorApp, type SimulatorOptions } from '../../src/poyo/simulator/index.js'

export const API_KEY = 'sk-test-0123456789abcdef'
export const WEBHOOK_SECRET = 'whsec-test-secret'
/** A valid input for the model used throughout (`hailuo-2.3` defaults: 6 s, 768p → 35 credits). */
export const MODEL = 'hailuo-2.3'
export const INPUT = { prompt: 'a red fox running through snow' }

/** A listening simulator, closed when the test ends. */
export async function startSim(
  t: Test,
  opts: SimulatorOptions = {},
): Promise<{ sim: SimulatorApp; url: string }> {
  const sim = buildSimulator({
    apiKey: API_KEY,
    webhookSecret: WEBHOOK_SECRET,
    runMs: 200,
    seed: 42,
    ...opts,
  })
  const url = await sim.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => sim.close())
  return { sim, url }
}

export interface CapturedLog {
  lines: string[]
  logger: NonNullable<PoyoClientOptions['logger']>
}

/** A logger that keeps every line as JSON text, as pino would write it. */
export function captureLogger(): CapturedLog {
  const lines: string[] = []
  const write = (level: string) => (obj: object, msg?: string) => {
    lines.push(JSON.stringify({ level, ...obj, msg }))
  }
  return { lines, logger: { debug: write('debug'), warn: write('warn') } }
}

export function client(url: string, opts: Partial<PoyoClientOptions> = {}): PoyoClient {
  return createPoyoClient({ baseUrl: url, apiKey: API_KEY, timeoutMs: 2000, ...opts })
}

/** Runs `fn`, which must reject with a PoyoError, and returns that error. */
export async function poyoError(t: Test, fn: () => Promise<unknown>): Promise<PoyoError> {
  try {
    await fn()
  } catch (err) {
    if (err instanceof PoyoError) return err
    t.fail(`expected a PoyoError, got ${String(err)}`)
    throw err
  }
  t.fail('expected the call to fail')
  throw new Error('expected the call to fail')
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 3000, intervalMs = 10, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface ReceivedCallback {
  headers: Record<string, string | string[] | undefined>
  body: unknown
  atMs: number
}

/** A callback receiver: records every POST; answers with `status()` (200 unless changed). */
export async function startReceiver(
  t: Test,
  status: (n: number) => number = () => 200,
): Promise<{ app: FastifyInstance; url: string; received: ReceivedCallback[] }> {
  const app = Fastify()
  const received: ReceivedCallback[] = []
  app.post('/callback', async (request, reply) => {
    received.push({ headers: request.headers, body: request.body, atMs: Date.now() })
    return reply.code(status(received.length)).send({ ok: true })
  })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { app, url: `${base}/callback`, received }
}

/** A URL on which nothing listens. */
export async function closedPortUrl(): Promise<string> {
  const app = Fastify()
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  await app.close()
  return url
}
