import type { E2eResult } from './e2e.js'
import type { IngestResult } from './ingest.js'
import type { QueryResult } from './queries.js'
import { type Check, ms, num, pct } from './report.js'
import type { SubmissionResult } from './submission.js'

/** The targets of issue #7. */
export const targets = {
  ingestOfDirect: 0.6,
  ingestP99Ms: 25,
  listP99Ms: 15,
  /** Page N may be this much slower than page 1 (p50) before it counts as slower: noise. */
  deepPageSlack: 1.25,
  statsMonthMs: 150,
  submitAddedP50Ms: 3,
  peakRssMb: 250,
}

/**
 * With the cores the limit, throughput goes as 1 / CPU per callback: reaching the target
 * fraction of the direct rate leaves this much per callback for the service and the load
 * generator together, after the service's Postgres takes its share.
 */
export function ingestCpuBudgetUs(r: IngestResult): number {
  const directUs = r.direct.cpu.callerUs + r.direct.cpu.postgresUs
  return Math.round(directUs / targets.ingestOfDirect - r.service.cpu.postgresUs)
}

export function ingestChecks(r: IngestResult): Check[] {
  const s = 'callback ingest'
  return [
    {
      section: s,
      name: `service, ${r.service.connections} conns (${r.service.applied} state changes)`,
      value: `${num(r.service.rps)}/s, p50 ${ms(r.service.p50)}, p99 ${ms(r.service.p99)}`,
      target: `p99 ≤ ${targets.ingestP99Ms} ms`,
      pass: r.service.p99 <= targets.ingestP99Ms && r.service.non2xx === 0,
    },
    {
      section: s,
      name: `direct SQL, batches of ${r.direct.batch} (the service's mean ${r.service.meanBatch.toFixed(1)}), ${r.direct.clients} clients`,
      value: `${num(r.direct.tps)}/s, batch p50 ${ms(r.direct.p50)}, p99 ${ms(r.direct.p99)}`,
      target: '',
      pass: null,
    },
    {
      section: s,
      name: `direct SQL, one callback a transaction, ${r.directSingle.clients} clients`,
      value: `${num(r.directSingle.tps)}/s, p50 ${ms(r.directSingle.p50)}, p99 ${ms(r.directSingle.p99)}`,
      target: '',
      pass: null,
    },
    {
      section: s,
      name: 'CPU per callback: service / its Postgres; direct batched: loop / Postgres',
      value: `${r.service.cpu.callerUs} / ${r.service.cpu.postgresUs} µs; ${r.direct.cpu.callerUs} / ${r.direct.cpu.postgresUs} µs`,
      target: '',
      pass: null,
    },
    {
      section: s,
      name: "of the service's: JS thread / other threads (V8's GC, JIT); the load generator's",
      value: `${r.service.cpu.mainThreadUs} / ${r.service.cpu.callerUs - r.service.cpu.mainThreadUs} µs; ${r.service.cpu.loadGeneratorUs} µs`,
      target: '',
      pass: null,
    },
    {
      section: s,
      name: 'CPU the ratio target leaves service + load generator, per callback (estimate)',
      value: `${ingestCpuBudgetUs(r)} µs (they used ${r.service.cpu.callerUs + r.service.cpu.loadGeneratorUs} µs)`,
      target: '',
      pass: null,
    },
    {
      section: s,
      name: 'no-op Fastify route, 50 conns',
      value: `${num(r.noop.rps)}/s, p50 ${ms(r.noop.p50)}, p99 ${ms(r.noop.p99)}`,
      target: '',
      pass: null,
    },
    {
      section: s,
      name: 'service / direct SQL in the same batches',
      value: pct(r.ofDirect),
      target: `≥ ${pct(targets.ingestOfDirect)}`,
      pass: r.ofDirect >= targets.ingestOfDirect,
    },
    {
      section: s,
      name: `the same in ${r.pairs.length} alternating pairs of ${r.pairs[0]?.seconds ?? 0} s (median; each pair)`,
      value: `${pct(r.pairedOfDirect)} (${r.pairs.map((p) => pct(p.ratio)).join(', ')})`,
      target: `≥ ${pct(targets.ingestOfDirect)}`,
      pass: r.pairedOfDirect >= targets.ingestOfDirect,
    },
    {
      section: s,
      name: `with the dashboard's live stream open, ${r.withStream.pairs.length} pairs of ${r.withStream.pairs[0]?.seconds ?? 0} s (median of with / without; each pair)`,
      value: `${pct(r.withStream.ofWithout)} (${r.withStream.pairs.map((p) => pct(p.ratio)).join(', ')})`,
      target: '',
      pass: null,
    },
    {
      section: s,
      name: `changes the stream sent by the end of their burst; within ${r.withStream.settleMs / 1000} s after it (streams ended by the service, resumed)`,
      value: `${pct(r.withStream.deliveredInRunShare)}; ${pct(r.withStream.deliveredShare)} (${r.withStream.pairs.reduce((sum, p) => sum + p.endedByService, 0)})`,
      target: '',
      pass: null,
    },
    {
      section: s,
      name: 'service / direct SQL, one callback a transaction',
      value: pct(r.ofDirectSingle),
      target: '',
      pass: null,
    },
    { section: s, name: 'service / no-op route', value: pct(r.ofNoop), target: '', pass: null },
  ]
}

export function submissionChecks(r: SubmissionResult): Check[] {
  const s = 'submission'
  return [
    {
      section: s,
      name: 'POST /v1/tasks, 50 conns (accepted)',
      value: `${num(r.throughput.rps)}/s, p50 ${ms(r.throughput.p50)}, p99 ${ms(r.throughput.p99)}`,
      target: '',
      pass: null,
    },
    {
      section: s,
      name: 'p50 at 1 conn: simulator submit vs service',
      value: `${ms(r.simulatorLatency.p50)} vs ${ms(r.serviceLatency.p50)}`,
      target: '',
      pass: null,
    },
    {
      section: s,
      name: 'latency the service adds (p50), back to back, workers in the same process',
      value: ms(r.addedP50Ms),
      target: `≤ ${targets.submitAddedP50Ms} ms`,
      pass: r.addedP50Ms <= targets.submitAddedP50Ms,
    },
    {
      section: s,
      name: `the same at a steady ${r.pacedPerSecond} submissions/s (simulator vs service p50)`,
      value: `${ms(r.pacedAddedP50Ms)} (${ms(r.pacedSimulatorLatency.p50)} vs ${ms(r.pacedServiceLatency.p50)})`,
      target: `≤ ${targets.submitAddedP50Ms} ms`,
      pass: r.pacedAddedP50Ms <= targets.submitAddedP50Ms,
    },
    {
      section: s,
      name: 'the same, an API instance (WORKERS_ENABLED=false) beside the one doing the work',
      value: `${ms(r.apiInstanceAddedP50Ms)} (service p50 ${ms(r.apiInstanceLatency.p50)})`,
      target: `≤ ${targets.submitAddedP50Ms} ms`,
      pass: r.apiInstanceAddedP50Ms <= targets.submitAddedP50Ms,
    },
  ]
}

export function queryChecks(results: QueryResult[]): Check[] {
  const firstPage = results.find((r) => r.name === 'list: first page')
  return results.map((r): Check => {
    const section = 'queries at scale'
    if ('skipped' in r)
      return { section, name: r.name, value: `skipped: ${r.skipped}`, target: '', pass: null }
    const value = `p50 ${ms(r.p50)}, p99 ${ms(r.p99)} (${r.rows} rows)`
    if (r.name.startsWith('stats: month'))
      return {
        section,
        name: r.name,
        value,
        target: `p99 ≤ ${targets.statsMonthMs} ms`,
        pass: r.p99 <= targets.statsMonthMs,
      }
    if (r.name.startsWith('stats')) return { section, name: r.name, value, target: '', pass: null }
    const checks = [r.p99 <= targets.listP99Ms && r.non2xx === 0]
    let target = `p99 ≤ ${targets.listP99Ms} ms`
    if (r.name.includes('(cursor)') && firstPage && !('skipped' in firstPage)) {
      checks.push(r.p50 <= firstPage.p50 * targets.deepPageSlack)
      target += `, p50 ≤ page 1's (${ms(firstPage.p50)})`
    }
    return { section, name: r.name, value, target, pass: checks.every(Boolean) }
  })
}

export function e2eChecks(r: E2eResult): Check[] {
  const s = 'end to end'
  return [
    {
      section: s,
      name: `${r.tasks} tasks, 20% of callbacks dropped`,
      value: `${r.finished} finished, ${r.failed} failed, ${r.rejected} rejected`,
      target: 'all finished',
      pass: r.finished === r.tasks,
    },
    {
      section: s,
      name: 'time to drain (first submit → all finished)',
      value:
        r.drainSeconds === null
          ? 'did not drain'
          : `${num(r.drainSeconds, 1)} s (POSTs: ${num(r.submitSeconds, 1)} s, last sent to PoYo: ${num(r.lastSubmittedAfter ?? Number.NaN, 1)} s)`,
      target: '',
      pass: null,
    },
    {
      section: s,
      name: 'finished by callback / by polling',
      value: `${r.byCallback} / ${r.byPoller}`,
      target: '',
      pass: null,
    },
  ]
}

export function memoryCheck(peakMb: number): Check {
  return {
    section: 'memory',
    name: 'service peak RSS (whole run)',
    value: `${num(peakMb)} MB`,
    target: `≤ ${targets.peakRssMb} MB`,
    pass: peakMb <= targets.peakRssMb,
  }
}
