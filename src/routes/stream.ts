import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { ServiceUnavailableError } from '../errors.js'
import { problemRef } from '../schemas/problem.js'
import { StreamHeaders, StreamMessage, StreamQuery } from '../schemas/queries.js'
import { createTaskFeed } from '../stream/feed.js'
import { createChangeHub } from '../stream/hub.js'
import { type StreamSession, startStreamSession } from '../stream/session.js'

/**
 * The database the LISTEN connection opens. The app's deps do not carry the URL, and with
 * the embedded Postgres DATABASE_URL is unset, so it is the one the job queue was started
 * with (pg-boss keeps its constructor options on its Db).
 */
function listenerConnectionString(app: FastifyInstance): string {
  if (app.config.DATABASE_URL) return app.config.DATABASE_URL
  const db = app.queue.getDb() as { config?: { connectionString?: string } }
  const url = db.config?.connectionString
  if (!url) throw new Error('stream: no database URL for the LISTEN connection')
  return url
}

const listenTimeoutMs = 5_000

/** Server-sent events of task status changes, from every instance, resumable with Last-Event-ID. */
const streamRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const logger = app.log.child({ component: 'stream' })
  const hub = createChangeHub({ connectionString: listenerConnectionString(app), logger })
  const feed = createTaskFeed(hub, app.prisma, logger)
  const sessions = new Set<StreamSession>()

  // Open streams would keep the server from closing: end them first. Clients reconnect
  // (to another instance) and resume where they were.
  app.addHook('preClose', async () => {
    for (const session of sessions) session.end()
  })
  app.addHook('onClose', async () => {
    await hub.close()
  })

  app.get(
    '/v1/stream',
    {
      schema: {
        tags: ['tasks'],
        summary: 'Server-sent events of task status changes',
        description:
          'Every status change of a task the caller may see, as `event: task` with `id: <event id>` and `data: {"task": Task, "event": TaskEvent}`. Reconnect with `Last-Event-ID` to receive the changes missed meanwhile, in order, none twice. Without it the stream starts now (its first line sets an id to resume from). Comment lines are heartbeats.',
        querystring: StreamQuery,
        headers: StreamHeaders,
        response: {
          200: {
            description: 'An endless event stream',
            content: { 'text/event-stream': { schema: StreamMessage } },
          },
          400: problemRef,
          503: problemRef,
        },
      },
    },
    async (request, reply) => {
      if (!(await hub.whenListening(listenTimeoutMs)))
        throw new ServiceUnavailableError('Live task changes are unavailable: the database is not reachable')
      const lastEventId = request.headers['last-event-id']
      reply.hijack()
      const session = startStreamSession({
        request: request.raw,
        response: reply.raw,
        requestId: request.id,
        caller: request.caller,
        prisma: app.prisma,
        feed,
        logger: request.log,
        lastEventId: lastEventId === undefined ? null : BigInt(lastEventId),
        heartbeatMs: request.query.heartbeat * 1000,
      })
      sessions.add(session)
      void session.done.then(() => sessions.delete(session))
      return reply
    },
  )
}

export default streamRoutes
