import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { type ApiKeyVerifier, createApiKeyVerifier } from '../auth/key-cache.js'
import { UnauthorizedError } from '../errors.js'
import type { Caller } from '../tasks/caller.js'

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller
  }
  interface FastifyInstance {
    apiKeys: ApiKeyVerifier
  }
}

/**
 * /v1 needs an API key, except PoYo's callbacks (they carry a per-task token instead). Judged
 * by the route's path, not the raw URL: the router decodes `/%761/tasks` to `/v1/tasks`.
 */
function needsApiKey(path: string): boolean {
  return path.startsWith('/v1/') && !path.startsWith('/v1/callbacks/')
}

/** The bearer token; the event stream may pass it as `access_token` (EventSource cannot set headers). */
function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  // The scheme name is case-insensitive (RFC 9110).
  const match = header ? /^bearer\s+(\S+)\s*$/i.exec(header) : null
  if (match?.[1]) return match[1]
  const query = request.query as Record<string, unknown> | undefined
  if (request.routeOptions.url === '/v1/stream' && typeof query?.access_token === 'string')
    return query.access_token
  return undefined
}

const lastUsedWriteIntervalMs = 60_000

/**
 * Who is calling: an API key (client or admin) on every /v1 route, verified through the
 * in-process key cache (src/auth/key-cache.ts). `last_used_at` is written at most once a
 * minute per key and process, not on every request. Each key has its own rate limit.
 */
async function authPlugin(app: FastifyInstance) {
  const lastUsedWrites = new Map<string, number>()
  app.decorate('apiKeys', createApiKeyVerifier({ prisma: app.prisma, hub: app.listenHub }))
  app.decorateRequest('caller', null as unknown as Caller)

  /** Verifies the caller's key and sets `request.caller`; throws 401 without a good one. */
  async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const token = bearerToken(request)
    reply.header('www-authenticate', 'Bearer')
    if (!token) throw new UnauthorizedError('An API key is required: Authorization: Bearer <key>')
    const check = await app.apiKeys.verify(token)
    if (!check.ok) throw new UnauthorizedError(check.reason)
    reply.removeHeader('www-authenticate')
    const { apiKey } = check
    request.caller = { apiKeyId: apiKey.id, role: apiKey.role, scope: apiKey.id }

    const now = Date.now()
    if (now - (lastUsedWrites.get(apiKey.id) ?? 0) >= lastUsedWriteIntervalMs) {
      lastUsedWrites.set(apiKey.id, now)
      app.prisma.apiKey
        .update({ where: { id: apiKey.id }, data: { lastUsedAt: new Date(now) } })
        .catch((error) => request.log.warn({ err: error }, 'could not record last_used_at'))
    }
  }

  const requireApiKey: onRequestHookHandler = (request, reply, done) => {
    authenticate(request, reply).then(() => done(), done)
  }
  // Each route that needs a key gets the check as its own first hook, chosen once as it is
  // added: judging every request by its matched route (request.routeOptions builds an object
  // of a dozen fields at each read) took 2% of a callback's CPU. Routes without a key
  // (callbacks, health) run no auth hook at all.
  app.addHook('onRoute', (route) => {
    if (!needsApiKey(route.url)) return
    const hooks = route.onRequest === undefined ? [] : [route.onRequest].flat()
    // A GET's HEAD twin is added with the GET's options: it already has the check.
    if (!hooks.includes(requireApiKey)) route.onRequest = [requireApiKey, ...hooks]
  })
  // A /v1 URL no route matches needs a key too: a 404 without one would tell which routes exist.
  app.addHook('onRequest', (request, reply, done) => {
    if (!request.is404 || !needsApiKey(request.url)) return done()
    requireApiKey.call(app, request, reply, done)
  })

  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: app.config.RATE_LIMIT_PER_MINUTE,
    timeWindow: 60_000,
    // Keyed by API key; requests without one (operations routes, callbacks) are not limited here.
    allowList: (request) => !request.caller,
    keyGenerator: (request) => request.caller?.apiKeyId ?? request.ip,
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new Error(`Rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`),
        {
          statusCode: 429,
          code: 'RATE_LIMITED',
        },
      ),
  })
}

export default fp(authPlugin, { name: 'auth', dependencies: ['listen-hub'] })
