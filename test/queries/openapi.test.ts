/**
 * /openapi.json is a valid OpenAPI 3 document that lists every API route the server
 * answers, each with its responses; /docs serves Swagger UI.
 */
import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import { buildTestApp } from '../helpers/app.js'

const { app } = await buildTestApp(t, { WORKERS_ENABLED: 'false' })
const response = await app.inject({ url: '/openapi.json' })
const doc = response.json() as {
  openapi: string
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>
}

/** Full paths and methods from Fastify's route tree (`printRoutes({ commonPrefix: false })`). */
function routerRoutes(): { path: string; methods: string[] }[] {
  const routes: { path: string; methods: string[] }[] = []
  const parents: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^(.*?)[├└]── (\S+) \(([^)]+)\)$/.exec(line)
    if (!match) continue
    const depth = [...(match[1] ?? '')].length / 4
    const path = `${depth > 0 ? parents[depth - 1] : ''}${match[2]}`
    parents[depth] = path
    routes.push({ path, methods: (match[3] ?? '').split(', ').filter((m) => m !== 'HEAD') })
  }
  return routes
}

t.test('a valid OpenAPI 3 document', async (t) => {
  t.equal(response.statusCode, 200)
  t.match(doc.openapi, /^3\./)
  // validate() dereferences in place: give it a copy.
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'swagger-parser accepts it')
})

t.test('every API route is listed with its responses', async (t) => {
  const api = routerRoutes().filter((route) => route.path.startsWith('/v1/'))
  t.ok(api.length >= 8, `${api.length} API routes`)
  for (const route of api) {
    const path = route.path.replace(/:(\w+)/g, '{$1}')
    for (const method of route.methods) {
      const operation = doc.paths[path]?.[method.toLowerCase()]
      t.ok(operation, `${method} ${path} is listed`)
      const codes = Object.keys(operation?.responses ?? {})
      t.ok(
        codes.some((code) => code.startsWith('2')),
        `${method} ${path} declares its success (${codes})`,
      )
    }
  }
})

t.test('the query routes declare every status they answer with', async (t) => {
  const expected: Record<string, string[]> = {
    '/v1/tasks': ['200', '400', '401', '429'],
    '/v1/tasks/{id}/events': ['200', '400', '401', '404', '429'],
    '/v1/stats': ['200', '400', '401', '429'],
    '/v1/stream': ['200', '400', '401', '429', '503'],
  }
  for (const [path, codes] of Object.entries(expected))
    t.same(Object.keys(doc.paths[path]?.get?.responses ?? {}).sort(), codes, `GET ${path}`)
  t.ok(
    doc.paths['/v1/stream']?.get?.responses['200']?.content?.['text/event-stream'],
    'the stream is text/event-stream',
  )
  const listOperation = doc.paths['/v1/tasks']?.get as unknown as
    { parameters?: { name: string }[] } | undefined
  const listParameters = listOperation?.parameters ?? []
  t.same(listParameters.map((parameter) => parameter.name).sort(), [
    'client',
    'created_after',
    'created_before',
    'cursor',
    'limit',
    'model',
    'q',
    'status',
  ])
  t.notOk(doc.paths['/dashboard'], 'the dashboard page is not an API operation')
})

t.test('/docs serves Swagger UI', async (t) => {
  const page = await app.inject({ url: '/docs' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.match(page.body, /<title>Swagger UI<\/title>/)
  const script = await app.inject({ url: '/docs/static/swagger-ui-bundle.js' })
  t.equal(script.statusCode, 200, 'its script is served locally (no CDN)')
  const spec = await app.inject({ url: '/docs/json' })
  t.same(Object.keys(spec.json().paths).sort(), Object.keys(doc.paths).sort(), 'it shows this document')
})
