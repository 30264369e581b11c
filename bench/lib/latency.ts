/** What a load run reports, and the requests it sends. */

export interface Latency {
  p50: number
  p99: number
  max: number
}

export interface LoadResult extends Latency {
  /** Responses received (any status). */
  requests: number
  /** 2xx responses per second. */
  rps: number
  non2xx: number
  errors: number
  connections: number
  seconds: number
  /** CPU the load generator took in a process of its own (wrk), in ms; the bench's own is measured apart. */
  generatorCpuMs?: number
  /** The generator ran out of drawn requests and sent some again. */
  wrapped?: boolean
}

export interface Step {
  path: string
  method?: 'GET' | 'POST' | 'PUT'
  body?: string
  headers?: Record<string, string>
}

export interface LoadOptions {
  /** http://127.0.0.1:port */
  base: string
  connections: number
  seconds: number
  /** Send this many requests, then stop (within `seconds` + 30 s at most). */
  amount?: number
  /** The request to send, or a function returning the next one (called per request). */
  step: Step | (() => Step)
  /** Called on each 2xx answer: ms since the run started, and its latency in ms (sockets only). */
  onResponse?: (atMs: number, latencyMs: number) => void
  /**
   * A generator that draws requests from `step` ahead of sending them (wrk) hands back the
   * last `count` it drew and did not send, so the next run starts with them.
   */
  unsent?: (count: number) => void
  /** The most requests a second the run could take (wrk draws that many ahead); 12,000 by default. */
  maxRate?: number
}

/** The median of `values` (the mean of the middle two for an even count); NaN for none. */
export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return (sorted[(sorted.length - 1) >> 1]! + sorted[sorted.length >> 1]!) / 2
}

/** Nearest-rank percentiles over latencies in ms, kept at full precision (autocannon's histogram rounds to 1 ms). */
export function percentiles(values: number[]): Latency {
  if (values.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN }
  const sorted = Float64Array.from(values).sort()
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN }
}
