import { callbackUrl } from '../../src/tasks/callback-token.js'
import { type BenchDb, benchId, countRows, insertNotStartedTasks } from './db.js'
import {
  callbackBody,
  type DirectResult,
  directCallbackSql,
  directRunner,
  tasksNeeded,
} from './direct-sql.js'
import { fire, type LoadResult, median, type Step } from './load.js'
import { cpuMsOf, freePort, spawnNode, threadCpuMs, treeCpuMs, waitReady } from './procs.js'
import { callbackSecret, type Stack } from './service.js'
import { benchIngestWithStream, type StreamIngestResult } from './stream-ingest.js'

export interface IngestResult {
  service: LoadResult & {
    tasks: number
    applied: number
    wrapped: boolean
    meanBatch: number
    cpu: CpuPerCallback & {
      /** Of callerUs: the service's JavaScript thread; the rest is V8's helper threads (GC, compiler) and libuv's. */
      mainThreadUs: number
      /** The load generator's (in the bench's process), on the same cores. */
      loadGeneratorUs: number
    }
  }
  /** The service's statements driven directly: batched as the service batched them, and one callback each. */
  direct: DirectResult & { applied: number; cpu: CpuPerCallback }
  directSingle: DirectResult & { applied: number; cpu: CpuPerCallback }
  noop: LoadResult
  /**
   * Short runs of the service and the batched direct loop in turn (service, direct, service,
   * …), each pair's ratio taken under the same conditions: the machine's speed drifts between
   * the long runs above.
   */
  pairs: { seconds: number; service: number; direct: number; ratio: number }[]
  /** The median of the pairs' ratios. */
  pairedOfDirect: number
  /** Bursts with the dashboard's live stream open, in turn with bursts without. */
  withStream: StreamIngestResult
  /** Service callbacks/s over the direct rates, and over no-op requests/s. */
  ofDirect: number
  ofDirectSingle: number
  ofNoop: number
}

/** CPU time per applied callback, in µs: the caller's (the service, or the direct loop) and Postgres'. */
export interface CpuPerCallback {
  callerUs: number
  postgresUs: number
}

/** CPU time (ms) each reader counts while `run` runs: the caller's, Postgres', or any other. */
async function measureCpu<T, K extends string>(
  readers: Record<K, () => number>,
  run: () => Promise<T>,
): Promise<{ result: T; cpuMs: Record<K, number> }> {
  const names = Object.keys(readers) as K[]
  const start = names.map((name) => readers[name]())
  const result = await run()
  const cpuMs = Object.fromEntries(names.map((name, i) => [name, readers[name]() - start[i]!]))
  return { result, cpuMs: cpuMs as Record<K, number> }
}

const usPerCallback = (ms: number, applied: number) => Math.round((ms * 1000) / Math.max(1, applied))

const perCallback = (cpuMs: { caller: number; postgres: number }, applied: number): CpuPerCallback => ({
  callerUs: usPerCallback(cpuMs.caller, applied),
  postgresUs: usPerCallback(cpuMs.postgres, applied),
})

const ownCpuMs = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Calls and statements of the service's status-change coalescer so far (GET /metrics). */
async function transitionBatches(base: string): Promise<{ calls: number; statements: number }> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const value = (name: string) =>
    Number(new RegExp(`^${name}\\{kind="transition"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
  return { calls: value('db_batch_size_sum'), statements: value('db_batch_size_count') }
}

/** The callback load: 50 connections, as the issue asks. */
export const ingestConnections = 50
const warmupSet = 'b0000000'
const ingestSet = 'b0000001'
const directSet = 'b0000002'
const directSingleSet = 'b0000003'
const pairsServiceSet = 'b0000004'
const pairsDirectSet = 'b0000005'

/** How many tasks benchId(set, 1…count) are finished. */
export const finishedIn = (db: BenchDb, set: string, count: number) =>
  countRows(db.pool, `SELECT count(*) AS n FROM tasks WHERE id BETWEEN $1 AND $2 AND status = 'finished'`, [
    benchId(set, 1),
    benchId(set, count),
  ])

/** A rotation over `count` callbacks, each for another task of `set`: every request is a real state change. */
export function rotation(set: string, count: number, pathFor: (id: string) => string) {
  const paths: string[] = []
  const bodies: string[] = []
  for (let n = 1; n <= count; n++) {
    paths.push(pathFor(benchId(set, n)))
    bodies.push(callbackBody(`${set}-${n}`))
  }
  let next = 0
  return {
    step: (): Step => {
      const i = next++ % count
      return { method: 'POST', path: paths[i]!, body: bodies[i]! }
    },
    /** Steps drawn and not sent (see LoadOptions.unsent) come next again. */
    unsent: (unsentCount: number) => {
      next -= unsentCount
    },
    used: () => next,
  }
}

/**
 * Callbacks a second a run applied, counting only those answered within it: wrk stops its
 * clock with answers still out, and the service applies those after it.
 */
export const appliedRate = (applied: number, run: LoadResult): number =>
  Math.min(applied, run.requests - run.non2xx) / run.seconds

/**
 * One burst of `seconds` at 50 connections over `calls` (callbacks for tasks benchId(set,
 * 1…count)), from a checkpoint: the callbacks it applied, and a second (see appliedRate).
 */
export async function callbackBurst(
  db: BenchDb,
  stack: Stack,
  calls: ReturnType<typeof rotation>,
  tasks: { set: string; count: number },
  seconds: number,
  /** Called once the tasks finished before the burst are counted, just before the load starts. */
  onCounted?: () => void,
): Promise<{ rate: number; applied: number; finishedBefore: number }> {
  await db.pool.query('CHECKPOINT')
  const before = await finishedIn(db, tasks.set, tasks.count)
  onCounted?.()
  const run = await fire({
    base: stack.base,
    connections: ingestConnections,
    seconds,
    step: calls.step,
    unsent: calls.unsent,
  })
  const applied = (await finishedIn(db, tasks.set, tasks.count)) - before
  return { rate: appliedRate(applied, run), applied, finishedBefore: before }
}

/**
 * The two halves of pair number `pair`, `second` first in every other pair: what one half
 * leaves behind (the service's background work) falls on each side as often.
 */
export async function inTurn<A, B>(
  pair: number,
  first: () => Promise<A>,
  second: () => Promise<B>,
): Promise<[A, B]> {
  if (pair % 2 === 0) {
    const a = await first()
    return [a, await second()]
  }
  const b = await second()
  return [await first(), b]
}

/** Seconds of each half of an alternating pair. */
const pairSeconds = 2

/**
 * The service and the batched direct loop in turn, `pairs` times, each half `pairSeconds`
 * with everything they need made beforehand: both sets of tasks inserted and vacuumed, the
 * direct loop's connections open and its statements prepared. Between halves only a count
 * and a checkpoint run, so the two halves of a pair meet the same machine (its speed drifts
 * by tens of percent over a minute on these shared machines), and the ratio of a pair is theirs.
 */
async function alternatingPairs(
  db: BenchDb,
  stack: Stack,
  adminKeyId: string,
  opts: { pairs: number; batch: number },
): Promise<IngestResult['pairs']> {
  // At rates no 2-core machine reaches: neither side may run out of fresh tasks.
  const serviceTasks = 8_000 * pairSeconds * opts.pairs
  const directTasks = 16_000 * pairSeconds * opts.pairs
  await insertNotStartedTasks(db.pool, pairsServiceSet, serviceTasks, adminKeyId)
  await insertNotStartedTasks(db.pool, pairsDirectSet, directTasks, adminKeyId)
  await db.pool.query('VACUUM (ANALYZE) tasks')
  await db.pool.query('CHECKPOINT')
  const calls = rotation(pairsServiceSet, serviceTasks, (id) => callbackUrl('', callbackSecret, id))
  const direct = await directRunner(db.url, pairsDirectSet, { clients: 2, batch: opts.batch })
  const pairs: IngestResult['pairs'] = []
  try {
    // Each half starts from a checkpoint: the pages the half before dirtied are not left for
    // this one's backends to write out as they need buffers (the direct loop, twice as fast,
    // left twice as many on the service's halves as they left on its).
    const directHalf = async () => {
      await db.pool.query('CHECKPOINT')
      return (await direct.run(pairSeconds)).tps
    }
    const serviceHalf = async () =>
      (await callbackBurst(db, stack, calls, { set: pairsServiceSet, count: serviceTasks }, pairSeconds)).rate
    for (let pair = 0; pair < opts.pairs; pair++) {
      const [serviceRate, directRate] = await inTurn(pair, serviceHalf, directHalf)
      pairs.push({
        seconds: pairSeconds,
        service: serviceRate,
        direct: directRate,
        ratio: serviceRate / directRate,
      })
    }
  } finally {
    await direct.close()
  }
  return pairs
}

/**
 * Callback ingest at 50 connections against the listening service (confirmation off), beside
 * the same SQL driven straight at Postgres and a no-op Fastify route under the same load.
 */
export async function benchIngest(
  db: BenchDb,
  stack: Stack,
  admin: { id: string; secret: string },
  opts: { tasks: number; seconds: number; warmupSeconds: number; pairs: number },
): Promise<IngestResult> {
  const adminKeyId = admin.id
  // Warm-up on tasks of its own, long enough for V8 to have compiled the route's hot code
  // (a quick run's first seconds cost the service about twice the CPU per callback).
  const warmupTasks = 6_000 * opts.warmupSeconds
  await insertNotStartedTasks(db.pool, warmupSet, warmupTasks, adminKeyId)
  const warmup = rotation(warmupSet, warmupTasks, (id) => callbackUrl('', callbackSecret, id))
  await fire({
    base: stack.base,
    connections: ingestConnections,
    seconds: opts.warmupSeconds,
    step: warmup.step,
    unsent: warmup.unsent,
  })
  // Every set of the long runs is made now and vacuumed, and each run starts from a
  // checkpoint: no run pays for another's inserts (dirty pages written out, hint bits set,
  // autovacuum woken by fresh rows) in its measured seconds.
  const directTasks = tasksNeeded(opts.seconds)
  await insertNotStartedTasks(db.pool, ingestSet, opts.tasks, adminKeyId)
  await insertNotStartedTasks(db.pool, directSet, directTasks, adminKeyId)
  await insertNotStartedTasks(db.pool, directSingleSet, directTasks, adminKeyId)
  await db.pool.query('VACUUM (ANALYZE) tasks')
  await db.pool.query('CHECKPOINT')
  const callbacks = rotation(ingestSet, opts.tasks, (id) => callbackUrl('', callbackSecret, id))
  const before = await finishedIn(db, ingestSet, opts.tasks)
  const batchesBefore = await transitionBatches(stack.base)
  const { pid } = stack.service
  const { result: service, cpuMs: serviceCpu } = await measureCpu(
    {
      caller: () => cpuMsOf(pid),
      postgres: () => treeCpuMs(db.postmasterPid),
      mainThread: () => threadCpuMs(pid, pid),
      loadGenerator: ownCpuMs,
    },
    () =>
      fire({
        base: stack.base,
        connections: ingestConnections,
        seconds: opts.seconds,
        step: callbacks.step,
        unsent: callbacks.unsent,
      }),
  )
  const batchesAfter = await transitionBatches(stack.base)
  const applied = (await finishedIn(db, ingestSet, opts.tasks)) - before
  const meanBatch =
    (batchesAfter.calls - batchesBefore.calls) /
    Math.max(1, batchesAfter.statements - batchesBefore.statements)

  // The same statements straight at Postgres: as the service batched them (two at a time, as
  // its coalescer runs them), and one callback per transaction from 50 clients.
  const directRun = async (set: string, clients: number, batch: number) => {
    await db.pool.query('CHECKPOINT')
    const { result, cpuMs } = await measureCpu(
      { caller: ownCpuMs, postgres: () => treeCpuMs(db.postmasterPid) },
      () => directCallbackSql(db.url, set, { clients, batch, seconds: opts.seconds }),
    )
    const applied = await finishedIn(db, set, directTasks)
    return { ...result, applied, cpu: perCallback(cpuMs, applied) }
  }
  const batch = Math.max(1, Math.round(meanBatch))
  const direct = await directRun(directSet, 2, batch)
  const directSingle = await directRun(directSingleSet, ingestConnections, 1)

  const pairs = await alternatingPairs(db, stack, adminKeyId, { pairs: opts.pairs, batch })
  const pairedOfDirect = median(pairs.map((p) => p.ratio))
  const withStream = await benchIngestWithStream(db, stack, admin, { pairs: Math.ceil(opts.pairs / 2) })

  const noopPort = await freePort()
  const noopBase = `http://127.0.0.1:${noopPort}`
  const noopServer = spawnNode('noop server', 'bench/lib/noop-server.ts', { NOOP_PORT: String(noopPort) })
  let noop: LoadResult
  try {
    await waitReady(noopServer, `${noopBase}/healthz`)
    const noopCalls = rotation(ingestSet, opts.tasks, (id) =>
      callbackUrl('', callbackSecret, id).replace('/v1/callbacks/poyo/', '/noop/'),
    )
    await fire({
      base: noopBase,
      connections: ingestConnections,
      seconds: opts.warmupSeconds,
      step: noopCalls.step,
      unsent: noopCalls.unsent,
    })
    noop = await fire({
      base: noopBase,
      connections: ingestConnections,
      seconds: opts.seconds,
      step: noopCalls.step,
      unsent: noopCalls.unsent,
    })
  } finally {
    await noopServer.stop()
  }

  return {
    service: {
      ...service,
      tasks: opts.tasks,
      applied,
      wrapped: callbacks.used() > opts.tasks,
      meanBatch,
      cpu: {
        ...perCallback(serviceCpu, applied),
        mainThreadUs: usPerCallback(serviceCpu.mainThread, applied),
        // wrk's own process from its first request (the bench's only waits on it, once it has
        // written the requests out), or the bench's process with the socket generator.
        loadGeneratorUs: usPerCallback(service.generatorCpuMs ?? serviceCpu.loadGenerator, applied),
      },
    },
    direct,
    directSingle,
    noop,
    pairs,
    pairedOfDirect,
    withStream,
    ofDirect: service.rps / direct.tps,
    ofDirectSingle: service.rps / directSingle.tps,
    ofNoop: service.rps / noop.rps,
  }
}
