import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createDatabase } from '../../src/db/admin.js'
import { startEmbeddedPostgres } from '../../src/db/embedded.js'
import { applyMigrations } from '../../src/db/migrations.js'
import { freePort, onCleanup, parentPid } from './procs.js'

export interface BenchDb {
  /** The bench database (migrated). */
  url: string
  port: number
  pool: pg.Pool
  /** The Postgres server process (its backends are its children). */
  postmasterPid: number
  /** Collects Postgres' log output from now until `stop()`. */
  tapLog(): { stop(): string }
}

/** An embedded Postgres in a temp dir (durability off), one migrated database; all removed at cleanup. */
export async function startBenchDb(options: { settings?: Record<string, string> } = {}): Promise<BenchDb> {
  const taps = new Set<string[]>()
  const dataDir = await mkdtemp(join(tmpdir(), 'poyo-bench-pg-'))
  onCleanup('pg data dir', () => rm(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const embedded = await startEmbeddedPostgres({
    dataDir,
    port,
    ephemeral: true,
    callerHandlesSignals: true,
    ...(options.settings ? { settings: options.settings } : {}),
    onLog: (line) => {
      for (const tap of taps) tap.push(line)
    },
  })
  onCleanup('embedded postgres', () => embedded.stop())
  const url = await createDatabase(embedded.url, 'poyo_bench')
  await applyMigrations(url)
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  // Idle clients see the server stop at cleanup; that is not an error of the run.
  pool.on('error', () => {})
  onCleanup('bench pool', () => pool.end())
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  const postmasterPid = parentPid(rows[0]!.pid)
  const tapLog = () => {
    const lines: string[] = []
    taps.add(lines)
    return {
      stop: () => {
        taps.delete(lines)
        return lines.join('')
      },
    }
  }
  return { url, port, pool, postmasterPid, tapLog }
}

/** A uuid made of an 8-hex-digit set prefix and a number: bench rows can be addressed without lookups. */
export function benchId(prefix: string, n: number): string {
  const hex = prefix + n.toString(16).padStart(24, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** The SQL twin of benchId for `n` (an integer expression). */
export function benchIdSql(prefix: string, n: string): string {
  return `('${prefix}' || lpad(to_hex((${n})::bigint), 24, '0'))::uuid`
}

/** Inserts `count` tasks in `not_started` with ids benchId(prefix, 1..count) and provider ids `<prefix>-<n>`. */
export async function insertNotStartedTasks(
  pool: pg.Pool,
  prefix: string,
  count: number,
  apiKeyId: string,
): Promise<void> {
  await pool.query(
    `INSERT INTO tasks (id, api_key_id, model, status, input, provider_task_id, estimated_credits,
       webhook_events, client_scope, deadline_at, created_at, submitted_at, updated_at)
     SELECT ${benchIdSql(prefix, 'g')}, $1::uuid, 'hailuo-2.3', 'not_started',
       jsonb_build_object('prompt', 'bench task ' || g, 'duration', 6), '${prefix}-' || g, 25,
       '{}', $1, now() + interval '1 day', now(), now(), now()
     FROM generate_series(1, $2::int) g`,
    [apiKeyId, count],
  )
  await pool.query('ANALYZE tasks')
}

export async function countRows(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(sql, params)
  return Number(rows[0]?.n ?? 0)
}
