import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ServiceUnavailableError } from '../errors.js'
import { problemRef } from '../schemas/problem.js'
import { StreamHeaders, StreamMessage, StreamQuery } from '../schemas/queries.js'
import { createTaskFeed } from '../stream/feed.js'
import { type StreamSession, startStreamSession } from '../stream/session.js'

const listenTimeoutMs = 5_000

/** Server-sent events of task status changes, from every instance, resumable with Last-Event-ID. */
const streamRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const logger = app.log.child({ component: 'stream' })
  const hub = app.listenHub
  const feed = createTaskFeed(hub, app.prisma, logger)
  const sessions = new Set<StreamSession>()

  // Open streams would keep the server from closing: end them first. Clients reconnect
  // (to another instance) and resume where they were.
  app.addHook('preClose', async () => {
    for (const session of sessions) session.end()
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
          401: problemRef,
          429: problemRef,
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
        response: reply.raw,
        requestId: request.id,
        caller: request.caller,
        prisma: app.prisma,
        feed,
        logger: request.log,
        lastEventId: lastEventId === undefined ? null : BigInt(lastEventId),
        heartbeatMs: (request.query.heartbeat ?? 15) * 1000,
      })
      sessions.add(session)
      void session.done.then(() => sessions.delete(session))
      return reply
    },
  )
}

export default streamRoutes
