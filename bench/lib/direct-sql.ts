/**
 * The SQL the service runs for confirmed-off `finished` callbacks, statement for statement:
 * the task states (src/tasks/task-state.ts), then the status-change statement of
 * src/tasks/transitions.ts (compare-and-set, the raw callback and the status change, a
 * webhook message when the task has one), with the parameters the service builds. Driven
 * from node-postgres connections in a closed loop, in batches of `batch` callbacks: one
 * callback per transaction (what each callback cost before group commit, and what an idle
 * service sends) and the batches the service formed under the same load.
 */
import pg from 'pg'
import { reportTransition } from '../../src/tasks/apply-report.js'
import { parseCallbackBody } from '../../src/tasks/receive-callback.js'
import { type TaskState, taskStatesSql } from '../../src/tasks/task-state.js'
import { type TransitionArgs, transitionsInput, transitionsSql } from '../../src/tasks/transitions.js'
import { benchId } from './db.js'
import { type Latency, percentiles } from './load.js'

/** The callback body PoYo sends for task `providerId` (the same in the HTTP run). */
export function callbackBody(providerId: string): string {
  return JSON.stringify({
    task_id: providerId,
    status: 'finished',
    progress: 100,
    files: [{ file_url: 'https://files.poyo.sim/v.mp4', file_type: 'video' }],
    created_time: '2026-11-23T12:00:00',
    error_message: null,
    credits_amount: 25,
  })
}

/** The change the service makes for a `finished` callback on a bench task (`not_started`, submitted). */
function finishedByCallback(taskId: string, providerId: string, at: Date): TransitionArgs {
  const body = JSON.parse(callbackBody(providerId)) as unknown
  const report = parseCallbackBody(body)
  if (typeof report === 'string') throw new Error(`bench callback body: ${report}`)
  const task: TaskState = {
    id: taskId,
    status: 'not_started',
    progress: 0,
    errorCode: null,
    providerTaskId: providerId,
    submittedAt: at,
    startedAt: null,
    pollAttempts: 0,
  }
  return reportTransition(task, report, {
    now: at,
    verdict: 'advance',
    source: 'callback',
    record: {
      type: 'callback',
      source: 'callback',
      payload: { body, signature_checked: false, confirm: false },
    },
  })
}

export interface DirectResult extends Latency {
  tool: 'node-postgres'
  clients: number
  /** Callbacks per statement. */
  batch: number
  /** Callbacks applied per second (batches/s × batch). */
  tps: number
  transactions: number
  failed: number
  seconds: number
}

/** Tasks a run may use: enough for `seconds` at a rate no 2-core machine reaches. */
export function tasksNeeded(seconds: number): number {
  return 20_000 * (seconds + 2)
}

export interface DirectRunner {
  /** Applies callbacks for `seconds` from every client, continuing with the next tasks of the set. */
  run(seconds: number): Promise<DirectResult>
  close(): Promise<void>
}

/**
 * `clients` connections, each applying `batch` callbacks at a time (a read, then the change)
 * to fresh tasks benchId(prefix, 1…); latency is per batch. The connections (and their
 * prepared statements) stay open between runs, so short runs in turn with the service's
 * measure the same steady loop each time.
 */
export async function directRunner(
  url: string,
  prefix: string,
  opts: { clients: number; batch: number },
): Promise<DirectRunner> {
  const { clients, batch } = opts
  const pool = new pg.Pool({ connectionString: url, max: clients })
  const connections = await Promise.all(Array.from({ length: clients }, () => pool.connect()))
  let next = 1
  return {
    async run(seconds) {
      const latencies: number[] = []
      let applied = 0
      let failed = 0
      const stopAt = Date.now() + seconds * 1000
      const started = process.hrtime.bigint()
      const loop = async (client: pg.PoolClient) => {
        while (Date.now() < stopAt) {
          const numbers = Array.from({ length: batch }, () => next++)
          const t0 = process.hrtime.bigint()
          try {
            // Named, as the service prepares both (src/db/client.ts prepareStatement).
            await client.query({
              name: 'task_states',
              text: taskStatesSql,
              values: [numbers.map((n) => benchId(prefix, n))],
            })
            const at = new Date()
            const changes = numbers.map((n) => finishedByCallback(benchId(prefix, n), `${prefix}-${n}`, at))
            const { rowCount } = await client.query({
              name: 'transitions',
              text: transitionsSql,
              values: [transitionsInput(changes)],
            })
            applied += rowCount ?? 0
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6)
          } catch {
            failed++
          }
        }
      }
      await Promise.all(connections.map(loop))
      const elapsed = Number(process.hrtime.bigint() - started) / 1e9
      return {
        tool: 'node-postgres',
        clients,
        batch,
        tps: applied / elapsed,
        transactions: latencies.length,
        failed,
        seconds: elapsed,
        ...percentiles(latencies),
      }
    },
    async close() {
      for (const connection of connections) connection.release()
      await pool.end()
    },
  }
}

/** One run of a fresh directRunner. */
export async function directCallbackSql(
  url: string,
  prefix: string,
  opts: { clients: number; batch: number; seconds: number },
): Promise<DirectResult> {
  const runner = await directRunner(url, prefix, opts)
  try {
    return await runner.run(opts.seconds)
  } finally {
    await runner.close()
  }
}
