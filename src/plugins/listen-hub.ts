import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { apiKeyChangesChannel } from '../auth/key-cache.js'
import { createListenHub, type ListenHub } from '../db/listen-hub.js'
import { taskChangesChannel } from '../stream/channel.js'
import { submitWakeChannel } from '../tasks/submit-wake.js'

declare module 'fastify' {
  interface FastifyInstance {
    listenHub: ListenHub
  }
}

/**
 * The app's one LISTEN connection: task changes for the event stream, key changes for the
 * key cache and, where this instance submits, new tasks stored by instances that do not.
 */
async function listenHubPlugin(app: FastifyInstance) {
  const submits = app.config.WORKERS_ENABLED
  const hub = createListenHub({
    connectionString: app.databaseUrl,
    logger: app.log.child({ component: 'listen' }),
    channels: [taskChangesChannel, apiKeyChangesChannel, ...(submits ? [submitWakeChannel] : [])],
  })
  if (submits) {
    // A reconnect may have missed some: look once in case.
    const wake = () => app.wakeSubmitter()
    hub.subscribe(submitWakeChannel, { notify: wake, reset: wake })
  }
  app.decorate('listenHub', hub)
  app.addHook('onClose', async () => {
    await hub.close()
  })
}

export default fp(listenHubPlugin, { name: 'listen-hub' })
