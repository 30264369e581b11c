import { setTimeout as sleep } from 'node:timers/promises'
import type { BenchDb } from './db.js'
import { fire } from './load.js'
import { type Stack, setSimFaults } from './service.js'
import { createTaskStep } from './submission.js'

export interface E2eResult {
  tasks: number
  created: number
  finished: number
  failed: number
  /** Non-2xx answers and errors while submitting. */
  rejected: number
  submitSeconds: number
  /** From the first submit until every task was finished or failed (null: not within the limit). */
  drainSeconds: number | null
  /** Seconds from the first task's creation to the last one's submission to PoYo, and to the last finish. */
  lastSubmittedAfter: number | null
  lastFinishedAfter: number | null
  /** Status changes to finished that came from a callback, and from polling. */
  byCallback: number
  byPoller: number
}

const tally = async (db: BenchDb, apiKeyId: string) => {
  const { rows } = await db.pool.query<{ status: string; n: string }>(
    'SELECT status, count(*) AS n FROM tasks WHERE api_key_id = $1 GROUP BY status',
    [apiKeyId],
  )
  const of = (status: string) => Number(rows.find((row) => row.status === status)?.n ?? 0)
  const total = rows.reduce((sum, row) => sum + Number(row.n), 0)
  return { total, finished: of('finished'), failed: of('failed') }
}

/**
 * `tasks` tasks through POST /v1/tasks and the simulator, which drops 20% of the callbacks
 * (so those finish through polling); measures the time until all are finished.
 */
export async function benchE2e(
  db: BenchDb,
  stack: Stack,
  client: { id: string; secret: string },
  opts: { tasks: number; maxSeconds: number },
): Promise<E2eResult> {
  await setSimFaults(stack, { dropCallbacks: 0.2 })
  try {
    const started = Date.now()
    const submit = await fire({
      base: stack.base,
      connections: 50,
      seconds: opts.maxSeconds,
      amount: opts.tasks,
      step: createTaskStep(client.secret),
    })
    const submitSeconds = (Date.now() - started) / 1000

    let drainSeconds: number | null = null
    let counts = await tally(db, client.id)
    while (Date.now() - started < opts.maxSeconds * 1000) {
      if (counts.finished + counts.failed >= counts.total) {
        drainSeconds = (Date.now() - started) / 1000
        break
      }
      await sleep(250)
      counts = await tally(db, client.id)
    }
    const { rows } = await db.pool.query<{ source: string; n: string }>(
      `SELECT e.source, count(*) AS n FROM task_events e JOIN tasks t ON t.id = e.task_id
       WHERE t.api_key_id = $1 AND e.type = 'status_changed' AND e.to_status = 'finished' GROUP BY e.source`,
      [client.id],
    )
    const { rows: spans } = await db.pool.query<{ submitted: number | null; finished: number | null }>(
      `SELECT extract(epoch FROM max(submitted_at) - min(created_at))::float8 AS submitted,
         extract(epoch FROM max(finished_at) - min(created_at))::float8 AS finished
       FROM tasks WHERE api_key_id = $1`,
      [client.id],
    )
    const by = (source: string) => Number(rows.find((row) => row.source === source)?.n ?? 0)
    return {
      tasks: opts.tasks,
      created: counts.total,
      finished: counts.finished,
      failed: counts.failed,
      rejected: submit.non2xx + submit.errors,
      submitSeconds,
      drainSeconds,
      lastSubmittedAfter: spans[0]?.submitted ?? null,
      lastFinishedAfter: spans[0]?.finished ?? null,
      byCallback: by('callback'),
      byPoller: by('poller'),
    }
  } finally {
    await setSimFaults(stack, { dropCallbacks: 0 })
  }
}
