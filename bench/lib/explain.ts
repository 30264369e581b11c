/**
 * `--explain`: the SQL each query route really sends, with EXPLAIN (ANALYZE, BUFFERS). The
 * statements come from Postgres' own log (log_min_duration_statement=0 for a moment, which
 * reaches the service's open connections on reload), so nothing is copied from src/.
 */
import type { BenchDb } from './db.js'
import { call } from './load.js'

export interface ExplainedStatement {
  endpoint: string
  /** Duration Postgres logged for the statement as the service ran it. */
  loggedMs: number
  sql: string
  /** Execution time of EXPLAIN ANALYZE, and the plan's text. */
  executionMs: number
  plan: string
}

interface Logged {
  ms: number
  sql: string
}

const entryStart = /(?:^|\n)\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \w+ \[\d+\] (\w+):\s+/

/** Statements with their parameters put back in, from a stretch of Postgres' log. */
export function parseLog(text: string): Logged[] {
  const parts = text.split(entryStart)
  const statements: Logged[] = []
  for (let i = 1; i < parts.length; i += 2) {
    const level = parts[i]
    const body = parts[i + 1] ?? ''
    if (level === 'LOG') {
      const match = /^duration: ([\d.]+) ms\s+(?:execute [^:]*|statement): ([\s\S]*)$/.exec(body.trim())
      if (match) statements.push({ ms: Number(match[1]), sql: match[2]!.trim() })
    } else if (level === 'DETAIL' && body.startsWith('Parameters:') && statements.length > 0) {
      const params = new Map<string, string>()
      for (const m of body.matchAll(/\$(\d+) = (NULL|'(?:[^']|'')*')/g)) params.set(m[1]!, m[2]!)
      const last = statements[statements.length - 1]!
      last.sql = last.sql.replace(/\$(\d+)/g, (whole, n: string) => params.get(n) ?? whole)
    }
  }
  return statements
}

const interesting = (sql: string) =>
  /^(SELECT|WITH)\b/i.test(sql) && /\btasks\b/.test(sql) && !/pgboss|FOR UPDATE|next_poll_at <=/.test(sql)

/** Calls each endpoint once with statement logging on, then EXPLAIN ANALYZEs what it ran. */
export async function explainEndpoints(
  db: BenchDb,
  base: string,
  key: string,
  endpoints: { name: string; path: string }[],
): Promise<ExplainedStatement[]> {
  const captured: { endpoint: string; log: string }[] = []
  await db.pool.query('ALTER SYSTEM SET log_min_duration_statement = 0')
  await db.pool.query('SELECT pg_reload_conf()')
  try {
    await new Promise((resolve) => setTimeout(resolve, 300))
    for (const endpoint of endpoints) {
      const tap = db.tapLog()
      await call(base, { path: endpoint.path, headers: { authorization: `Bearer ${key}` } })
      await new Promise((resolve) => setTimeout(resolve, 100))
      captured.push({ endpoint: endpoint.name, log: tap.stop() })
    }
  } finally {
    await db.pool.query('ALTER SYSTEM RESET log_min_duration_statement')
    await db.pool.query('SELECT pg_reload_conf()')
  }
  const explained: ExplainedStatement[] = []
  const seen = new Set<string>()
  for (const { endpoint: called, log } of captured) {
    for (const statement of parseLog(log).filter((s) => interesting(s.sql))) {
      // The poll sweep runs every second whatever is being called; its query is listed once.
      const endpoint = /deadline_at"? <=/.test(statement.sql) ? 'poll sweep (background)' : called
      const key = endpoint.startsWith('poll sweep') ? 'poll sweep' : `${endpoint}\n${statement.sql}`
      if (seen.has(key)) continue
      seen.add(key)
      const { rows } = await db.pool.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, BUFFERS) ${statement.sql}`,
      )
      const plan = rows.map((row) => row['QUERY PLAN']).join('\n')
      const executionMs = Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? Number.NaN)
      explained.push({ endpoint, loggedMs: statement.ms, sql: statement.sql, executionMs, plan })
    }
  }
  return explained
}
