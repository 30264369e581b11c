/**
 * `--pg-stats`: Postgres' own account of the statements each section ran
 * (pg_stat_statements, preloaded in the bench's cluster). Counted per section from a reset
 * at its start; the bench's own statements are in it too (the ingest's direct loop runs the
 * service's statements, so those rows add both up).
 */
import type pg from 'pg'

/** Server settings the extension needs: loaded at start, nested statements (triggers) too, planning timed. */
export const pgStatsSettings = {
  shared_preload_libraries: 'pg_stat_statements',
  'pg_stat_statements.track': 'all',
  'pg_stat_statements.track_planning': 'on',
}

export interface StatementStats {
  /** The statement, whitespace folded, cut at 200 characters. */
  query: string
  /** False for a statement run inside another (a trigger's, a function's): its time is also in its caller's. */
  toplevel: boolean
  calls: number
  rows: number
  execMs: number
  planMs: number
  /** (exec + plan) / calls. */
  meanMs: number
}

export interface SectionPgStats {
  /** Top-level statements only, so nothing is counted twice. */
  calls: number
  execMs: number
  planMs: number
  /** The statements that took the most time (exec + plan), nested ones included. */
  top: StatementStats[]
}

export async function enablePgStats(pool: pg.Pool): Promise<void> {
  await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
}

export async function resetPgStats(pool: pg.Pool): Promise<void> {
  await pool.query('SELECT pg_stat_statements_reset()')
}

type Row = { query: string; toplevel: boolean; calls: string; rows: string; exec_ms: number; plan_ms: number }

/** The statements of this database since the last reset, the `limit` costliest first. */
export async function readPgStats(pool: pg.Pool, limit = 15): Promise<SectionPgStats> {
  const { rows } = await pool.query<Row>(
    `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query, toplevel, calls, rows,
       total_exec_time AS exec_ms, total_plan_time AS plan_ms
     FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND query NOT LIKE '%pg_stat_statements%'
     ORDER BY total_exec_time + total_plan_time DESC`,
  )
  const round = (ms: number) => Math.round(ms * 100) / 100
  const toplevel = rows.filter((row) => row.toplevel)
  const sum = (pick: (row: Row) => number) => round(toplevel.reduce((total, row) => total + pick(row), 0))
  return {
    calls: sum((row) => Number(row.calls)),
    execMs: sum((row) => row.exec_ms),
    planMs: sum((row) => row.plan_ms),
    top: rows.slice(0, limit).map((row) => ({
      query: row.query,
      toplevel: row.toplevel,
      calls: Number(row.calls),
      rows: Number(row.rows),
      execMs: round(row.exec_ms),
      planMs: round(row.plan_ms),
      meanMs: round((row.exec_ms + row.plan_ms) / Number(row.calls)),
    })),
  }
}

/** A few lines for the log: the section's totals and its costliest statements. */
export function pgStatsLines(section: string, stats: SectionPgStats, shown = 8): string[] {
  return [
    `${section}: ${stats.calls} top-level statements, ${Math.round(stats.execMs)} ms executing, ${Math.round(stats.planMs)} ms planning`,
    ...stats.top
      .slice(0, shown)
      .map(
        (s) =>
          `  ${String(s.calls).padStart(8)} × ${s.meanMs.toFixed(3).padStart(8)} ms${s.toplevel ? ' ' : '*'} ${s.query.slice(0, 110)}`,
      ),
  ]
}
