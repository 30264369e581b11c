import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'

export interface Check {
  section: string
  name: string
  /** What was measured, as shown. */
  value: string
  target: string
  /** null: informational, no target. */
  pass: boolean | null
}

export function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  return {
    nproc: availableParallelism(),
    cpuModel: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadAverageAtStart: loadavg().map((n) => Math.round(n * 100) / 100),
  }
}

export const ms = (value: number) =>
  Number.isFinite(value) ? `${value.toFixed(value < 10 ? 2 : 1)} ms` : 'n/a'
export const pct = (value: number) => `${(value * 100).toFixed(1)}%`
export const num = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a')

/** The checks as an aligned text table. */
export function table(checks: Check[]): string {
  const rows = [
    ['section', 'measurement', 'result', 'target', ''],
    ...checks.map((c) => [
      c.section,
      c.name,
      c.value,
      c.target,
      c.pass === null ? '' : c.pass ? 'ok' : 'MISS',
    ]),
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  const line = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

/** bench/results/<date>[-label].json for a full run; a partial or quick run goes to an ignored .tmp file. */
export async function writeResults(
  dir: string,
  complete: boolean,
  label: string,
  data: unknown,
): Promise<string> {
  await mkdir(dir, { recursive: true })
  const date = new Date().toISOString().slice(0, 10)
  const name = label ? `${date}-${label}` : date
  const file = join(dir, complete ? `${name}.json` : `${name}.json.tmp`)
  await writeFile(file, `${JSON.stringify(data, null, 2)}\n`)
  return file
}
