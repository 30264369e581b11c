/**
 * The SQL the service runs for one confirmed-off `finished` callback, statement for
 * statement: the task's state (src/tasks/task-state.ts), then the one statement of
 * src/tasks/transitions.ts that moves the task by compare-and-set, records the raw callback
 * and the status change, and queues a webhook message when the task has one. Driven by
 * pgbench when installed, else by node-postgres.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { taskResourceSql } from '../../src/tasks/resource.js'
import { benchId, benchIdSql } from './db.js'
import { type Latency, percentiles } from './load.js'

const run = promisify(execFile)

/** The read of src/tasks/task-state.ts (`tid` names the id for pgbench's gset). */
const taskStateSql = (id: string) =>
  `SELECT id AS tid, status::text AS status, progress, error_code, provider_task_id, submitted_at, started_at,
    poll_attempts FROM tasks WHERE id = ${id}`

const files = `[{"url": "https://files.poyo.sim/v.mp4", "type": "video"}]`

/** The statement after the first read, for the task `task` (an SQL parameter); payloads as long as the real ones. */
function statements(task: string): string[] {
  // No `:name` in the SQL text (`"progress":100`, `12:00`): pgbench would read a variable.
  const body = callbackBody('b0000000-00000')
    .replace(/(\d):(?=\d)/g, '$1.')
    .replaceAll('":', '": ')
  const now = `now()`
  return [
    `WITH moved AS (
      UPDATE tasks SET progress = 100::int, submit_ambiguous = false::boolean, next_poll_at = NULL::timestamptz,
        started_at = ${now}, finished_at = ${now}, files = '${files}'::jsonb, credits = 25::float8,
        status = 'finished'::"TaskStatus", updated_at = ${now}
      WHERE id = ${task}::uuid AND status = 'not_started'::"TaskStatus"
      RETURNING tasks.*
    ), noted AS (
      INSERT INTO task_events (task_id, type, source, from_status, to_status, payload, created_at)
      SELECT task_id, type, source, from_status, to_status, payload, created_at FROM (
        SELECT 1 AS ord, ${task}::uuid AS task_id, 'callback'::"TaskEventType" AS type,
          'callback'::"TaskEventSource" AS source, NULL::"TaskStatus" AS from_status,
          NULL::"TaskStatus" AS to_status,
          '{"body": ${body}, "confirm": false, "signature_checked": false}'::jsonb AS payload,
          ${now} AS created_at
        UNION ALL
        SELECT 2 AS ord, id AS task_id, 'status_changed'::"TaskEventType" AS type,
          'callback'::"TaskEventSource" AS source, 'not_started'::"TaskStatus" AS from_status,
          'finished'::"TaskStatus" AS to_status,
          '{"progress": 100, "provider_task_id": "b0000000-00000"}'::jsonb AS payload, ${now} AS created_at
        FROM moved
      ) events ORDER BY ord
    ), queued AS (
      INSERT INTO webhook_deliveries (id, task_id, event, url, payload, next_attempt_at, created_at, updated_at)
      SELECT gen_random_uuid(), moved.id, moved.status, moved.webhook_url, ${taskResourceSql('moved')},
        ${now}, ${now}, ${now}
      FROM moved
      WHERE moved.webhook_url IS NOT NULL AND moved.status = ANY (moved.webhook_events)
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries stopped
          WHERE stopped.task_id = moved.id AND stopped.status = 'stopped')
      ON CONFLICT (task_id, event) DO NOTHING
    )
    SELECT id FROM moved`,
  ]
}

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

export interface DirectResult extends Latency {
  tool: 'pgbench' | 'node-postgres'
  tps: number
  transactions: number
  failed: number
  seconds: number
}

/** Tasks each client may use: enough for `seconds` at a rate no 2-core machine reaches. */
export function tasksPerClient(seconds: number): number {
  return Math.ceil((6000 * (seconds + 2)) / 50)
}

async function hasPgbench(): Promise<boolean> {
  return run('pgbench', ['--version']).then(
    () => true,
    () => false,
  )
}

/** pgbench: client c uses tasks c*per+1 …; latencies from its per-transaction log. */
async function viaPgbench(url: string, prefix: string, clients: number, seconds: number) {
  const dir = await mkdtemp(join(tmpdir(), 'poyo-bench-pgbench-'))
  try {
    const script = [
      '\\set k :k + 1',
      `\\set n :client_id * ${tasksPerClient(seconds)} + :k`,
      `${taskStateSql(benchIdSql(prefix, ':n'))} \\gset`,
      // The same output: a colon in double quotes is not read as a pgbench variable.
      ...statements(':tid').map((sql) => sql.replaceAll('HH24:MI:SS', 'HH24":"MI":"SS')),
    ].map(
      (line) =>
        `${line.replace(/\s*\n\s*/g, ' ')}${line.startsWith('\\') || line.endsWith('\\gset') ? '' : ';'}`,
    )
    await writeFile(join(dir, 'callback.sql'), `${script.join('\n')}\n`)
    const args = ['-n', '-M', 'extended', '-c', String(clients), '-j', '2', '-T', String(seconds)]
    args.push('-D', 'k=0', '-f', join(dir, 'callback.sql'), '-l', '--log-prefix', join(dir, 'tx'), url)
    const { stdout } = await run('pgbench', args, { maxBuffer: 16 << 20 }).catch((error) => {
      const stderr = String((error as { stderr?: string }).stderr ?? '').split('\n')
      throw new Error(`pgbench failed: ${stderr.slice(0, 5).join('\n')}`)
    })
    const latencies: number[] = []
    for (const file of (await readdir(dir)).filter((name) => name.startsWith('tx'))) {
      for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
        const micros = Number(line.split(' ')[2])
        if (line && Number.isFinite(micros)) latencies.push(micros / 1000)
      }
    }
    const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN)
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0)
    return {
      tool: 'pgbench' as const,
      tps,
      transactions: latencies.length,
      failed,
      seconds,
      ...percentiles(latencies),
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The same statements from `clients` node-postgres connections in a loop. */
async function viaNode(url: string, prefix: string, clients: number, seconds: number) {
  const pool = new pg.Pool({ connectionString: url, max: clients })
  const latencies: number[] = []
  let next = 1
  let failed = 0
  const stopAt = Date.now() + seconds * 1000
  const started = process.hrtime.bigint()
  const worker = async () => {
    const client = await pool.connect()
    try {
      while (Date.now() < stopAt) {
        const id = benchId(prefix, next++)
        const t0 = process.hrtime.bigint()
        try {
          await client.query(taskStateSql('$1::uuid'), [id])
          for (const sql of statements('$1')) {
            await client.query(sql, sql.includes('$1') ? [id] : [])
          }
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6)
        } catch {
          failed++
          await client.query('ROLLBACK').catch(() => {})
        }
      }
    } finally {
      client.release()
    }
  }
  await Promise.all(Array.from({ length: clients }, worker))
  await pool.end()
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9
  return {
    tool: 'node-postgres' as const,
    tps: latencies.length / elapsed,
    transactions: latencies.length,
    failed,
    seconds: elapsed,
    ...percentiles(latencies),
  }
}

/** Runs the callback transaction against fresh tasks benchId(prefix, 1…) for `seconds`. */
export async function directCallbackSql(
  url: string,
  prefix: string,
  clients: number,
  seconds: number,
): Promise<DirectResult> {
  return (await hasPgbench())
    ? viaPgbench(url, prefix, clients, seconds)
    : viaNode(url, prefix, clients, seconds)
}
