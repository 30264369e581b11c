import { randomUUID } from 'node:crypto'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Clock } from './clock.js'
import type { Config } from './config.js'
import type { PrismaClient } from './db/client.js'
import type { JobQueue } from './db/job-queue.js'
import { type Logger, lazyChildLogger } from './logger.js'
import authPlugin from './plugins/auth.js'
import errorsPlugin from './plugins/errors.js'
import listenHubPlugin from './plugins/listen-hub.js'
import metricsPlugin from './plugins/metrics.js'
import openapiPlugin from './plugins/openapi.js'
import type { PoyoClient } from './poyo/client.js'
import callbackRoutes from './routes/callbacks.js'
import dashboardRoutes from './routes/dashboard.js'
import deliveryRoutes from './routes/deliveries.js'
import healthRoutes from './routes/health.js'
import modelRoutes from './routes/models.js'
import statsRoutes from './routes/stats.js'
import streamRoutes from './routes/stream.js'
import taskQueryRoutes from './routes/task-queries.js'
import taskRoutes from './routes/tasks.js'
import type { UrlPolicy } from './webhooks/ssrf.js'

/** Everything the app needs from outside; the server and the tests pass the same kinds of things. */
export interface AppDeps {
  config: Config
  /** The database in use (DATABASE_URL or the embedded one), for connections of their own (LISTEN). */
  databaseUrl: string
  prisma: PrismaClient
  logger: Logger
  clock: Clock
  /** Migrations this build ships, for the readiness check. */
  shippedMigrations: readonly string[]
  poyo: PoyoClient
  queue: JobQueue
  /** Key of the per-task callback URL tokens. */
  callbackSecret: string
  /** Where webhooks may be sent. */
  webhookPolicy: UrlPolicy
  /** Nudges the submit worker after a task is stored: this process's, or (without workers here) the others' by NOTIFY. */
  wakeSubmitter: () => void
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    databaseUrl: string
    prisma: PrismaClient
    clock: Clock
    shippedMigrations: readonly string[]
    poyo: PoyoClient
    queue: JobQueue
    callbackSecret: string
    wakeSubmitter: () => void
    webhookPolicy: UrlPolicy
  }
}

const requestIdPattern = /^[\w.:-]{1,128}$/

/** Builds the HTTP app from its dependencies; it neither listens nor owns their lifecycles. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    childLoggerFactory: lazyChildLogger as unknown as NonNullable<FastifyServerOptions['childLoggerFactory']>,
    // A caller's X-Request-Id is kept when it looks like one, so logs join across services.
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID()
    },
    bodyLimit: 1_048_576,
    ajv: {
      customOptions: { removeAdditional: false, allErrors: true, coerceTypes: 'array', useDefaults: true },
    },
  }).withTypeProvider<TypeBoxTypeProvider>()

  // JSON only: a text/plain body is 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain')
  app.decorate('config', deps.config)
  app.decorate('databaseUrl', deps.databaseUrl)
  app.decorate('prisma', deps.prisma)
  app.decorate('clock', deps.clock)
  app.decorate('shippedMigrations', deps.shippedMigrations)
  app.decorate('poyo', deps.poyo)
  app.decorate('queue', deps.queue)
  app.decorate('callbackSecret', deps.callbackSecret)
  app.decorate('wakeSubmitter', deps.wakeSubmitter)
  app.decorate('webhookPolicy', deps.webhookPolicy)
  // Callback-style hooks here and in the plugins on every request: an async hook costs a
  // promise and its microtasks per request, for work that never waits.
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id)
    done(null, payload)
  })

  await app.register(errorsPlugin)
  await app.register(openapiPlugin)
  await app.register(metricsPlugin)
  await app.register(listenHubPlugin)
  await app.register(authPlugin)
  await app.register(healthRoutes)
  await app.register(modelRoutes)
  await app.register(taskRoutes)
  await app.register(callbackRoutes)
  await app.register(taskQueryRoutes)
  await app.register(statsRoutes)
  await app.register(streamRoutes)
  await app.register(dashboardRoutes)
  await app.register(deliveryRoutes)
  return app
}
