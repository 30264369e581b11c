import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { packageRoot } from '../../src/paths.js'
import { freePort } from '../../scripts/lib/free-port.js'

export { freePort }

/** Cleanups run in reverse order, once, on normal exit, error or signal. */
const cleanups: { name: string; run: () => Promise<unknown> }[] = []

export function onCleanup(name: string, run: () => Promise<unknown>): void {
  cleanups.push({ name, run })
}

export async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    const next = cleanups.pop()!
    await next.run().catch((error) => console.error(`cleanup ${next.name}: ${error}`))
  }
}

/**
 * Runs a bench entry point and exits with its code once everything started is cleaned up;
 * on an error (code 1) or SIGINT/SIGTERM too, so no Postgres or service outlives it.
 */
export function runMain(main: () => Promise<number>): void {
  let exiting = false
  const finish = async (code: number) => {
    if (exiting) return
    exiting = true
    await cleanupAll()
    process.exit(code)
  }
  process.once('SIGINT', () => void finish(130))
  process.once('SIGTERM', () => void finish(143))
  main().then(
    (code) => finish(code),
    (error: unknown) => {
      console.error(error)
      return finish(1)
    },
  )
}

export interface Child {
  name: string
  pid: number
  proc: ChildProcess
  /** Last lines of its output, for error messages. */
  tail(): string
  stop(): Promise<void>
}

/** Runs `node [nodeArgs] [--import tsx] <script>` from the package root; killed at cleanup. */
export function spawnNode(
  name: string,
  script: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Child {
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : []
  const proc = spawn(process.execPath, [...nodeArgs, ...loader, script], {
    cwd: packageRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean))
    if (lines.length > 40) lines.splice(0, lines.length - 40)
  }
  proc.stdout?.on('data', keep)
  proc.stderr?.on('data', keep)
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  const child: Child = {
    name,
    pid: proc.pid ?? 0,
    proc,
    tail: () => lines.join('\n'),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      const done = await Promise.race([exited.then(() => true), sleep(8_000).then(() => false)])
      if (!done) {
        proc.kill('SIGKILL')
        await exited
      }
    },
  }
  onCleanup(name, () => child.stop())
  return child
}

/** Waits until `url` answers 2xx; fails early with the child's output if it exits. */
export async function waitReady(child: Child, url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null) throw new Error(`${child.name} exited:\n${child.tail()}`)
    const ok = await fetch(url)
      .then((r) => r.ok)
      .catch(() => false)
    if (ok) return
    await sleep(200)
  }
  throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms:\n${child.tail()}`)
}

/** VmRSS and VmHWM (peak) of a process, in MB; null once it is gone. */
export function memoryOf(pid: number): { rssMb: number; peakMb: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 }
  } catch {
    return null
  }
}

/** Samples a process's RSS every `everyMs`; `peakMb` covers both samples and the kernel's VmHWM. */
export function sampleMemory(pid: number, everyMs = 500) {
  let peakMb = 0
  let lastMb = 0
  const take = () => {
    const m = memoryOf(pid)
    if (!m) return
    lastMb = m.rssMb
    peakMb = Math.max(peakMb, m.rssMb, m.peakMb)
  }
  const timer = setInterval(take, everyMs)
  timer.unref()
  return {
    peakMb: () => {
      take()
      return peakMb
    },
    lastMb: () => lastMb,
    stop: () => clearInterval(timer),
  }
}

/** CPU time (user + system, with its exited children's) a process has used so far, in ms; 0 once it is gone. */
export function cpuMsOf(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`, true) ?? 0
}

/** CPU time of one thread of a process (its main thread's id is the process id), in ms. */
export function threadCpuMs(pid: number, tid: number): number {
  return statCpuMs(`/proc/${pid}/task/${tid}/stat`, false) ?? 0
}

/** null when the process is gone. */
function statCpuMs(path: string, withChildren: boolean): number | null {
  try {
    const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ')
    // utime, stime, cutime, cstime, in clock ticks (USER_HZ is 100 on Linux).
    return fields.slice(11, withChildren ? 15 : 13).reduce((sum, ticks) => sum + Number(ticks), 0) * 10
  } catch {
    return null
  }
}

export function parentPid(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1])
}

/** The direct children of a process, each with its CPU time in ms (null: gone while read). */
function childrenCpuMs(rootPid: number): Map<number, number | null> {
  const children = new Map<number, number | null>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (parentPid(Number(entry)) !== rootPid) continue
    } catch {
      continue // not a child, or gone before it could be asked
    }
    children.set(Number(entry), statCpuMs(`/proc/${entry}/stat`, true))
  }
  return children
}

/**
 * CPU time of a process and its direct children (a Postgres server and its backends, gone
 * ones too), in ms. A child that exits and is reaped while this reads moves its time into
 * the root's: read before the root's own time, it would count twice; gone before its own
 * was read, not at all. Backends exit exactly when a measured loop closes its connections,
 * so the reading is taken again until the children are the same before and after the root.
 */
export function treeCpuMs(rootPid: number): number {
  for (let attempt = 1; ; attempt++) {
    const children = childrenCpuMs(rootPid)
    const root = cpuMsOf(rootPid)
    const after = childrenCpuMs(rootPid)
    const steady =
      [...children.values()].every((ms) => ms !== null) &&
      after.size === children.size &&
      [...after.keys()].every((pid) => children.has(pid))
    if (steady || attempt === 50)
      return root + [...children.values()].reduce<number>((sum, ms) => sum + (ms ?? 0), 0)
  }
}
