import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/**
 * The service's Prometheus metrics. Like prom-client's own default registry they live for
 * the process; `/metrics` serves this registry.
 */
export const registry = new Registry()

export const httpRequestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request latency by route',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
})

export const callbacksTotal = new Counter({
  name: 'poyo_callbacks_total',
  help: 'PoYo callbacks by outcome (applied, progress, duplicate, stale, mismatch, deferred, unknown_task, rejected, unavailable)',
  labelNames: ['outcome'] as const,
  registers: [registry],
})

export const poyoCallsTotal = new Counter({
  name: 'poyo_calls_total',
  help: 'Calls to PoYo by endpoint and outcome (ok or the error kind)',
  labelNames: ['endpoint', 'outcome'] as const,
  registers: [registry],
})

export const poyoCallDuration = new Histogram({
  name: 'poyo_call_duration_seconds',
  help: 'Latency of calls to PoYo',
  labelNames: ['endpoint', 'outcome'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
})

export const taskTransitionsTotal = new Counter({
  name: 'task_transitions_total',
  help: 'Task status changes by from and to status',
  labelNames: ['from', 'to'] as const,
  registers: [registry],
})

export const dbBatchSize = new Histogram({
  name: 'db_batch_size',
  help: 'Calls served by one coalesced statement (task state reads, status changes)',
  labelNames: ['kind'] as const,
  buckets: [1, 2, 4, 8, 16, 32, 64, 100],
  registers: [registry],
})

type DepthReader = () => Promise<Record<string, number>>
let readQueueDepths: DepthReader | null = null

/** The job queue whose depths the gauge reports (the latest app to start sets it). */
export function setQueueDepthReader(reader: DepthReader | null): void {
  readQueueDepths = reader
}

new Gauge({
  name: 'job_queue_depth',
  help: 'Jobs waiting in each queue',
  labelNames: ['queue'] as const,
  registers: [registry],
  async collect() {
    this.reset()
    if (!readQueueDepths) return
    for (const [queue, depth] of Object.entries(await readQueueDepths())) this.set({ queue }, depth)
  },
})

export function observePoyoCall(call: { endpoint: string; outcome: string; durationMs: number }): void {
  poyoCallsTotal.inc({ endpoint: call.endpoint, outcome: call.outcome })
  poyoCallDuration.observe({ endpoint: call.endpoint, outcome: call.outcome }, call.durationMs / 1000)
}
