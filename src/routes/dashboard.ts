import { join } from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'
import { packageRoot } from '../paths.js'

// Plain files, no build step; the same folder from src/ (tsx) and from a built dist/.
const dashboardDir = join(packageRoot, 'src', 'dashboard')

// Scripts, styles and API calls only from here; output files (images, videos) come from
// PoYo's file hosts, whatever they are.
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  'img-src * data:',
  'media-src *',
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ')

/** The operations dashboard: a static page that reads the public API with an admin key. */
const dashboardRoutes: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, {
    root: dashboardDir,
    prefix: '/dashboard/',
    wildcard: false,
    index: 'index.html',
    schemaHide: true,
    setHeaders: (response) => {
      response.setHeader('content-security-policy', contentSecurityPolicy)
      response.setHeader('x-content-type-options', 'nosniff')
      // Small files that change with the service: revalidate (ETag) rather than cache blindly.
      response.setHeader('cache-control', 'no-cache')
    },
  })
  app.get('/dashboard', { schema: { hide: true } }, (_request, reply) => reply.sendFile('index.html'))
}

export default dashboardRoutes
