import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { apiKeyChangesChannel } from '../auth/key-cache.js'
import { createListenHub, type ListenHub } from '../db/listen-hub.js'
import { taskChangesChannel } from '../stream/feed.js'

declare module 'fastify' {
  interface FastifyInstance {
    listenHub: ListenHub
  }
}

/** The app's one LISTEN connection: task changes for the event stream, key changes for the key cache. */
async function listenHubPlugin(app: FastifyInstance) {
  const hub = createListenHub({
    connectionString: app.databaseUrl,
    logger: app.log.child({ component: 'listen' }),
    channels: [taskChangesChannel, apiKeyChangesChannel],
  })
  app.decorate('listenHub', hub)
  app.addHook('onClose', async () => {
    await hub.close()
  })
}

export default fp(listenHubPlugin, { name: 'listen-hub' })
