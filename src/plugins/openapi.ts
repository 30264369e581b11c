import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** The OpenAPI 3 document, generated from the route schemas, at /openapi.json; Swagger UI at /docs. */
async function openapiPlugin(app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'PoYo task service',
        version: '0.1.0',
        description:
          "Submits AI video generation tasks to PoYo for internal clients, tracks each task's true state, and serves it.",
      },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key of this service' },
        },
      },
      security: [{ apiKey: [] }],
    },
    refResolver: {
      // Shared schemas keep their $id as their component name (Task, Problem).
      buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`),
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

export default fp(openapiPlugin, { name: 'openapi' })
