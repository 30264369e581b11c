import { setTimeout as sleep } from 'node:timers/promises'
import { type BenchDb, countRows } from './db.js'
import { fire, type LoadResult, paced, type Step, sequential } from './load.js'
import { type Stack, startApiInstance } from './service.js'

export interface SubmissionResult {
  /** POST /v1/tasks at 50 connections: accepted (202) tasks per second. */
  throughput: LoadResult
  /** One connection, back to back: the simulator's own submit, and the service's POST /v1/tasks. */
  simulatorLatency: LoadResult
  serviceLatency: LoadResult
  /** Service p50 minus simulator p50, in ms. */
  addedP50Ms: number
  /** The same two at a steady `pacedPerSecond` (one connection) instead of back to back. */
  pacedPerSecond: number
  pacedSimulatorLatency: LoadResult
  pacedServiceLatency: LoadResult
  pacedAddedP50Ms: number
  /** The same POSTs to an API instance (`WORKERS_ENABLED=false`) while the stack's service submits them. */
  apiInstanceLatency: LoadResult
  apiInstanceAddedP50Ms: number
}

/**
 * A steady load far below capacity (hundreds a second): the latency a submission sees on a
 * service that is not saturated, beside the back-to-back figure, which loads the service
 * (and its background work for each task) as fast as it answers.
 */
const pacedPerSecond = 50

let promptNumber = 0
const nextPrompt = () => `a lighthouse in a storm, take ${++promptNumber}`

/** A POST /v1/tasks step with a fresh prompt (one request, one new task). */
export function createTaskStep(key: string): () => Step {
  return () => ({
    method: 'POST',
    path: '/v1/tasks',
    headers: { authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'hailuo-2.3', input: { prompt: nextPrompt() } }),
  })
}

/** Waits (bounded) until no task of `apiKeyId` is queued, not_started or running. */
export async function waitSettled(db: BenchDb, apiKeyId: string, maxSeconds: number): Promise<number | null> {
  const started = Date.now()
  while (Date.now() - started < maxSeconds * 1000) {
    const open = await countRows(
      db.pool,
      `SELECT count(*) AS n FROM tasks WHERE api_key_id = $1 AND status IN ('queued', 'not_started', 'running')`,
      [apiKeyId],
    )
    if (open === 0) return (Date.now() - started) / 1000
    await sleep(500)
  }
  return null
}

/** Submission: accepted tasks/s, and the latency the service adds over the simulator's own submit. */
export async function benchSubmission(
  db: BenchDb,
  stack: Stack,
  client: { id: string; secret: string },
  opts: { seconds: number; latencySeconds: number; warmupSeconds: number },
): Promise<SubmissionResult> {
  const simSubmit: Step = {
    method: 'POST',
    path: '/api/generate/submit',
    headers: { authorization: `Bearer ${stack.simApiKey}` },
    body: JSON.stringify({ model: 'hailuo-2.3', input: { prompt: 'a lighthouse in a storm' } }),
  }
  const create = createTaskStep(client.secret)
  await sequential(stack.simBase, opts.warmupSeconds, simSubmit)
  const simulatorLatency = await sequential(stack.simBase, opts.latencySeconds, simSubmit)
  await sequential(stack.base, opts.warmupSeconds, create)
  const serviceLatency = await sequential(stack.base, opts.latencySeconds, create)
  const pacedSimulatorLatency = await paced(stack.simBase, opts.latencySeconds, pacedPerSecond, simSubmit)
  const pacedServiceLatency = await paced(stack.base, opts.latencySeconds, pacedPerSecond, create)
  const api = await startApiInstance(stack)
  let apiInstanceLatency: LoadResult
  try {
    // A fresh process: warmed as long as the stack's service was by its POSTs and the ingest before.
    await sequential(api.base, opts.warmupSeconds * 3, create)
    apiInstanceLatency = await sequential(api.base, opts.latencySeconds, create)
  } finally {
    await api.child.stop()
  }
  await waitSettled(db, client.id, 60)
  const throughput = await fire({ base: stack.base, connections: 50, seconds: opts.seconds, step: create })
  return {
    throughput,
    simulatorLatency,
    serviceLatency,
    addedP50Ms: serviceLatency.p50 - simulatorLatency.p50,
    pacedPerSecond,
    pacedSimulatorLatency,
    pacedServiceLatency,
    pacedAddedP50Ms: pacedServiceLatency.p50 - pacedSimulatorLatency.p50,
    apiInstanceLatency,
    apiInstanceAddedP50Ms: apiInstanceLatency.p50 - simulatorLatency.p50,
  }
}
