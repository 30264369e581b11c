import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { type Caller, localCaller } from '../tasks/caller.js'

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller
  }
}

/**
 * Who is calling. Until API keys exist every request is the single local client
 * (an admin); the key-based version replaces only this plugin.
 */
async function authPlugin(app: FastifyInstance) {
  app.decorateRequest('caller', null as unknown as Caller)
  app.addHook('onRequest', async (request) => {
    request.caller = localCaller
  })
}

export default fp(authPlugin, { name: 'auth' })
