/**
 * `fire` through wrk (Debian's package `wrk`, written in C): one thread, the same closed loop
 * of `connections` keep-alive connections. On 2 cores shared with the service, the load
 * generator's CPU is taken from the service: wrk spent 5–12 µs of user time per callback
 * where the Node.js socket generator spent 19–33 (bursts in turn, see bench/README.md); the
 * kernel's share (about 14 µs, the loopback's TCP) is the same for both.
 *
 * wrk cannot call back for each request, so the requests are drawn from `step` ahead of the
 * run (enough for `maxRate` a second) and written to a file its script sends in order; the
 * ones it did not send are handed back through `unsent`. Runs with `amount` or `onResponse`
 * go to the socket generator.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type LoadOptions, type LoadResult, type Step } from './latency.js'
import { encodeRequest } from './socket-load.js'

const script = join(import.meta.dirname, 'wrk-feed.lua')
/** Requests drawn per second of run: above any rate the service reaches on 2 cores. */
const defaultMaxRate = 12_000
/** At most this many drawn: a faster target (the no-op route) goes round them again. */
const maxDrawn = 150_000
/** Linux' clock ticks, the unit of /proc/self/stat. */
const ticksPerSecond = 100

interface WrkResult {
  sent: number
  completed: number
  durationUs: number
  p50Us: number
  p99Us: number
  maxUs: number
  non2xx: number
  errors: number
  cpuTicks: number
}

/** True when the `wrk` command runs here. */
export function wrkAvailable(): Promise<boolean> {
  return new Promise((resolve) =>
    execFile('wrk', ['--version'], (error) => resolve(!error || error.code === 1)),
  )
}

export async function fireWrk(options: LoadOptions & { maxRate?: number }): Promise<LoadResult> {
  if (!Number.isInteger(options.seconds) || options.seconds < 1)
    throw new Error(`wrk runs whole seconds, not ${options.seconds}`)
  const url = new URL(options.base)
  const stepOf = typeof options.step === 'function' ? options.step : () => options.step as Step
  const drawn = Math.min(maxDrawn, options.seconds * (options.maxRate ?? defaultMaxRate))
  const requests: Buffer[] = []
  const end = Buffer.alloc(1)
  for (let i = 0; i < drawn; i++) requests.push(encodeRequest(stepOf(), url.host), end)
  const dir = await mkdtemp(join(tmpdir(), 'poyo-bench-wrk-'))
  try {
    const feed = join(dir, 'requests')
    await writeFile(feed, Buffer.concat(requests))
    const args = [
      '-t1',
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      '--timeout',
      '30s',
      '-s',
      script,
    ]
    const output = await new Promise<string>((resolve, reject) =>
      execFile(
        'wrk',
        [...args, options.base],
        { env: { ...process.env, FEED_FILE: feed } },
        (error, stdout, stderr) =>
          error ? reject(new Error(`wrk failed: ${error.message}\n${stdout}${stderr}`)) : resolve(stdout),
      ),
    )
    const line = /^WRK_RESULT (\{.*\})$/m.exec(output)
    if (!line) throw new Error(`wrk printed no result:\n${output}`)
    const result = JSON.parse(line[1]!) as WrkResult
    if (result.sent < drawn) options.unsent?.(drawn - result.sent)
    const seconds = result.durationUs / 1e6
    return {
      p50: result.p50Us / 1000,
      p99: result.p99Us / 1000,
      max: result.maxUs / 1000,
      requests: result.completed,
      rps: (result.completed - result.non2xx) / seconds,
      non2xx: result.non2xx,
      errors: result.errors,
      connections: options.connections,
      seconds,
      generatorCpuMs: (result.cpuTicks * 1000) / ticksPerSecond,
      ...(result.sent > drawn ? { wrapped: true } : {}),
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
