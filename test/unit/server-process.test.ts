import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { freePort } from '../../scripts/lib/free-port.js'

function startServer(env: Record<string, string>): {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
} {
  const cleanEnv = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !/^(DATABASE_URL|POYO_|PUBLIC_URL|TEST_|TAP|NODE_OPTIONS)/.test(key),
    ),
  )
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...cleanEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout?.on('data', (chunk) => (output += chunk))
  child.stderr?.on('data', (chunk) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => output, exited }
}

async function waitForReady(port: number, deadlineMs: number): Promise<Response> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    try {
      return await fetch(`http://127.0.0.1:${port}/readyz`)
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

t.test(
  'with no DATABASE_URL the server runs an embedded Postgres, reuses it, and shuts down on SIGTERM',
  async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'poyo-embedded-'))
    t.teardown(() => rm(dataDir, { recursive: true, force: true }))
    const env = { EMBEDDED_PG_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), LOG_LEVEL: 'info' }

    for (const round of ['first start', 'second start (reuses the data directory)']) {
      const port = await freePort()
      const server = startServer({ ...env, PORT: String(port) })
      t.teardown(() => server.child.kill('SIGKILL'))
      const response = await waitForReady(port, 30_000)
      t.equal(response.status, 200, `${round}: /readyz is 200`)
      t.match(
        server.output(),
        new RegExp(`embedded postgres in ${dataDir}`),
        `${round}: says where the database lives`,
      )
      server.child.kill('SIGTERM')
      t.equal(await server.exited, 0, `${round}: exits 0 after SIGTERM`)
      t.match(server.output(), /shut down cleanly/)
    }
  },
)

t.test('invalid configuration stops the process with a message naming each variable', async (t) => {
  const server = startServer({ PORT: 'x', LOG_LEVEL: 'chatty' })
  t.equal(await server.exited, 78)
  t.match(server.output(), /PORT: /)
  t.match(server.output(), /LOG_LEVEL: must be one of/)
})
