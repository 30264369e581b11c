import { Writable } from 'node:stream'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import type { Clock } from '../../src/clock.js'
import { loadConfig } from '../../src/config.js'
import { createLogger } from '../../src/logger.js'
import { type Runtime, startRuntime } from '../../src/runtime.js'
import { createTestDatabase } from './database.js'

export interface TestApp {
  app: FastifyInstance
  runtime: Runtime
  databaseUrl: string
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[]
  /** The admin key the runtime created on the fresh database. */
  adminKey: string
}

/**
 * Builds the production app (same config loader, runtime and buildApp as the server)
 * on a fresh database; `env` overrides settings as environment variables would.
 */
export async function buildTestApp(
  t: Test,
  env: Record<string, string> = {},
  options: { clock?: Clock; databaseUrl?: string } = {},
): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase(t))
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    MIGRATE_ON_START: 'false',
    DATABASE_POOL_SIZE: '4',
    ...env,
  })
  const logs: Record<string, unknown>[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line))
      done()
    },
  })
  const logger = createLogger(config, sink)
  let adminKey = ''
  const runtime = await startRuntime(config, logger, {
    ...(options.clock ? { clock: options.clock } : {}),
    onAdminKeyCreated: (secret) => {
      adminKey = secret
    },
  })
  const app = await buildApp(runtime.deps)
  actAsAdminByDefault(app, () => adminKey)
  t.teardown(async () => {
    await app.close()
    await runtime.close()
  })
  await app.ready()
  return { app, runtime, databaseUrl, logs, adminKey }
}

/**
 * Client side only: `app.inject` sends the admin key unless the test sets `authorization`
 * itself (to another key, or to undefined for none). The app is exactly the production one.
 */
function actAsAdminByDefault(app: FastifyInstance, key: () => string): void {
  const inject = app.inject.bind(app) as (options: InjectOptions) => Promise<LightMyRequestResponse>
  const withAuth = (options: InjectOptions | string): InjectOptions => {
    const given = typeof options === 'string' ? { url: options } : options
    const headers = { ...(given.headers ?? {}) }
    if (!('authorization' in headers)) headers.authorization = `Bearer ${key()}`
    else if (headers.authorization === undefined) delete headers.authorization
    return { ...given, headers }
  }
  Object.assign(app, { inject: (options: InjectOptions | string) => inject(withAuth(options)) })
}
