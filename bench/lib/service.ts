import { execFile } from 'node:child_process'
import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { packageRoot } from '../../src/paths.js'
import { type Child, freePort, spawnNode, waitReady } from './procs.js'

export const callbackSecret = 'bench-callback-token-secret-0123456789abcdef'
const simApiKey = 'bench-sim-key'

export interface Stack {
  /** The service, e.g. http://127.0.0.1:41234 (also its PUBLIC_URL). */
  base: string
  service: Child
  /** The PoYo simulator, its own process. */
  simBase: string
  simApiKey: string
  sim: Child
  /** The service's environment, for the record (no secrets worth hiding: all bench-local). */
  env: Record<string, string>
  /** What runs the service: src/server.ts, or its build. */
  script: string
}

export interface StackOptions {
  databaseUrl: string
  poolSize?: number
  logLevel: string
  /** Run the service compiled by tsc (as the Docker image does) instead of through tsx. */
  built?: boolean
  /** Write a CPU profile of the service (node --cpu-prof) into this folder. */
  cpuProfDir?: string | undefined
  /** The service's NODE_OPTIONS (e.g. heap flags). */
  nodeOptions?: string | undefined
  /** More of the service's environment, over the bench's own settings (e.g. WORKERS_ENABLED=false). */
  extraEnv?: Record<string, string>
  /** More arguments to node before the script (V8 flags NODE_OPTIONS refuses, e.g. --trace-gc). */
  nodeArgs?: string[]
}

/** `NAME=VALUE` (the value may hold more `=`), given to `flag`. */
export function envPair(flag: string, pair: string): [string, string] {
  const at = pair.indexOf('=')
  if (at < 1) throw new Error(`${flag}: expected NAME=VALUE, got ${pair}`)
  return [pair.slice(0, at), pair.slice(at + 1)]
}

/** Starts the PoYo simulator and the service (`node --import tsx src/server.ts`), each its own process. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const simPort = await freePort()
  const sim = spawnNode('simulator', 'scripts/sim.ts', {
    SIM_PORT: String(simPort),
    SIM_API_KEY: simApiKey,
    SIM_RUN_MS: '2000',
    LOG_LEVEL: 'warn',
  })
  const simBase = `http://127.0.0.1:${simPort}`
  await waitReady(sim, `${simBase}/_sim/faults`)

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    DATABASE_URL: options.databaseUrl,
    DATABASE_POOL_SIZE: String(options.poolSize ?? 10),
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: base,
    POYO_API_KEY: simApiKey,
    POYO_BASE_URL: simBase,
    CALLBACK_TOKEN_SECRET: callbackSecret,
    CALLBACK_CONFIRM: 'false',
    // Per-key limit out of the way: the bench measures the service, not its limiter.
    RATE_LIMIT_PER_MINUTE: '100000000',
    POLL_MAX_PER_SECOND: '200',
    LOG_LEVEL: options.logLevel,
    ...(options.nodeOptions ? { NODE_OPTIONS: options.nodeOptions } : {}),
    ...options.extraEnv,
  }
  const nodeArgs = [
    ...(options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : []),
    ...(options.nodeArgs ?? []),
  ]
  const script = options.built ? await buildService() : 'src/server.ts'
  const service = spawnNode('service', script, env, nodeArgs)
  await waitReady(service, `${base}/readyz`)
  return { base, service, simBase, simApiKey, sim, env, script }
}

/**
 * A second instance of the service on the stack's database and simulator, with
 * `WORKERS_ENABLED=false`: the split the README describes, API instances beside one that
 * does the background work (here the stack's own). Stopped at cleanup if not before.
 */
export async function startApiInstance(stack: Stack): Promise<{ base: string; child: Child }> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const env = { ...stack.env, PORT: String(port), WORKERS_ENABLED: 'false' }
  const child = spawnNode('api instance', stack.script, env)
  await waitReady(child, `${base}/readyz`)
  return { base, child }
}

/**
 * Compiles src/ with tsconfig.build.json into bench/results/build.tmp (git-ignored), as the
 * image's `npm run build` does; type errors elsewhere do not stop the emit.
 */
async function buildService(): Promise<string> {
  const outDir = join(packageRoot, 'bench', 'results', 'build.tmp')
  const tsc = join(packageRoot, 'node_modules', 'typescript', 'bin', 'tsc')
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], {
    cwd: packageRoot,
  }).catch(() => {})
  const server = join(outDir, 'src', 'server.js')
  await access(server)
  return server
}

/** The NODE_OPTIONS the Docker image runs the service with (its Dockerfile's ENV), so the bench measures the same. */
export async function imageNodeOptions(): Promise<string | undefined> {
  const dockerfile = await readFile(join(packageRoot, 'Dockerfile'), 'utf8')
  return /NODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1]
}

/** Sets the simulator's fault switches (PUT /_sim/faults). */
export async function setSimFaults(stack: Stack, faults: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${stack.simBase}/_sim/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  })
  if (!response.ok) throw new Error(`PUT /_sim/faults: ${response.status} ${await response.text()}`)
}
