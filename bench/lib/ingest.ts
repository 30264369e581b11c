import { callbackUrl } from '../../src/tasks/callback-token.js'
import { type BenchDb, benchId, countRows, insertNotStartedTasks } from './db.js'
import { callbackBody, type DirectResult, directCallbackSql, tasksPerClient } from './direct-sql.js'
import { fire, type LoadResult, type Step } from './load.js'
import { freePort, spawnNode, waitReady } from './procs.js'
import { callbackSecret, type Stack } from './service.js'

export interface IngestResult {
  service: LoadResult & { tasks: number; applied: number; wrapped: boolean }
  direct: DirectResult & { applied: number }
  noop: LoadResult
  /** Service callbacks/s over direct-SQL transactions/s, and over no-op requests/s. */
  ofDirect: number
  ofNoop: number
}

const connections = 50
const ingestSet = 'b0000001'
const directSet = 'b0000002'

const finishedIn = (db: BenchDb, set: string, count: number) =>
  countRows(db.pool, `SELECT count(*) AS n FROM tasks WHERE id BETWEEN $1 AND $2 AND status = 'finished'`, [
    benchId(set, 1),
    benchId(set, count),
  ])

/** A rotation over `count` callbacks, each for another task: every request is a real state change. */
function rotation(count: number, pathFor: (id: string) => string) {
  const paths: string[] = []
  const bodies: string[] = []
  for (let n = 1; n <= count; n++) {
    paths.push(pathFor(benchId(ingestSet, n)))
    bodies.push(callbackBody(`${ingestSet}-${n}`))
  }
  let next = 0
  return {
    step: (): Step => {
      const i = next++ % count
      return { method: 'POST', path: paths[i]!, body: bodies[i]! }
    },
    used: () => next,
  }
}

/**
 * Callback ingest at 50 connections against the listening service (confirmation off), beside
 * the same SQL driven straight at Postgres and a no-op Fastify route under the same load.
 */
export async function benchIngest(
  db: BenchDb,
  stack: Stack,
  adminKeyId: string,
  opts: { tasks: number; seconds: number; warmupSeconds: number },
): Promise<IngestResult> {
  await insertNotStartedTasks(db.pool, ingestSet, opts.tasks, adminKeyId)
  const callbacks = rotation(opts.tasks, (id) => callbackUrl('', callbackSecret, id))
  await fire({ base: stack.base, connections, seconds: opts.warmupSeconds, step: callbacks.step })
  const before = await finishedIn(db, ingestSet, opts.tasks)
  const service = await fire({ base: stack.base, connections, seconds: opts.seconds, step: callbacks.step })
  const applied = (await finishedIn(db, ingestSet, opts.tasks)) - before

  const directTasks = tasksPerClient(opts.seconds) * connections
  await insertNotStartedTasks(db.pool, directSet, directTasks, adminKeyId)
  await db.pool.query('CHECKPOINT')
  const direct = await directCallbackSql(db.url, directSet, connections, opts.seconds)
  const directApplied = await finishedIn(db, directSet, directTasks)

  const noopPort = await freePort()
  const noopBase = `http://127.0.0.1:${noopPort}`
  const noopServer = spawnNode('noop server', 'bench/lib/noop-server.ts', { NOOP_PORT: String(noopPort) })
  let noop: LoadResult
  try {
    await waitReady(noopServer, `${noopBase}/healthz`)
    const noopCalls = rotation(opts.tasks, (id) =>
      callbackUrl('', callbackSecret, id).replace('/v1/callbacks/poyo/', '/noop/'),
    )
    await fire({ base: noopBase, connections, seconds: opts.warmupSeconds, step: noopCalls.step })
    noop = await fire({ base: noopBase, connections, seconds: opts.seconds, step: noopCalls.step })
  } finally {
    await noopServer.stop()
  }

  return {
    service: { ...service, tasks: opts.tasks, applied, wrapped: callbacks.used() > opts.tasks },
    direct: { ...direct, applied: directApplied },
    noop,
    ofDirect: service.rps / direct.tps,
    ofNoop: service.rps / noop.rps,
  }
}
