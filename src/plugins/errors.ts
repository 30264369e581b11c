import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { type FieldViolation, RouteNotFoundError } from '../errors.js'
import { Problem } from '../schemas/problem.js'

interface AjvError {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
}

/** Turns one schema-validation error into a field violation a person can read. */
function describeSchemaError(context: string, error: AjvError): FieldViolation {
  let path = error.instancePath
  let detail = error.message ?? 'is invalid'
  if (error.keyword === 'required') {
    path = `${path}/${String(error.params.missingProperty)}`
    detail = 'is required'
  } else if (error.keyword === 'additionalProperties') {
    path = `${path}/${String(error.params.additionalProperty)}`
    detail = 'is not an accepted field'
  } else if (error.keyword === 'enum' || error.keyword === 'const') {
    const allowed = (error.params.allowedValues as unknown[] | undefined) ?? [error.params.allowedValue]
    detail = `must be one of ${allowed.map((value) => JSON.stringify(value)).join(', ')}`
  }
  if (context === 'body') return { pointer: path, detail }
  // Query, path and header problems name the parameter instead of pointing into a body.
  return { parameter: path.replace(/^\//, '').split('/')[0] ?? '', detail }
}

function problemFor(
  request: FastifyRequest,
  status: number,
  code: string,
  detail: string,
  errors?: FieldViolation[],
) {
  return {
    type:
      status >= 500
        ? 'about:blank'
        : `https://poyo-task-service/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title: titles[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error'),
    status,
    detail,
    code,
    instance: request.url.split('?')[0],
    request_id: request.id,
    ...(errors ? { errors } : {}),
  }
}

function send(reply: FastifyReply, status: number, body: ReturnType<typeof problemFor>) {
  return reply.code(status).type('application/problem+json').send(body)
}

/**
 * Errors that mean "try again soon", not "this request is wrong": the database cannot be
 * reached, its pool or a transaction slot timed out (Prisma P1001/P1002/P1017/P2024/P2028),
 * or the connection dropped.
 */
function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code
  if (typeof code === 'string' && ['P1001', 'P1002', 'P1017', 'P2024', 'P2028'].includes(code)) return true
  const text = String((error as Error)?.message ?? '')
  return /ECONNREFUSED|Connection terminated|terminating connection|too many clients|timeout exceeded when trying to connect/i.test(
    text,
  )
}

/** The one error handler: 4xx say what was wrong; 5xx say nothing of the internals. */
async function errorsPlugin(app: FastifyInstance) {
  app.addSchema(Problem)

  app.setErrorHandler((error: FastifyError & { violations?: FieldViolation[] }, request, reply) => {
    if (error.validation) {
      const context = error.validationContext ?? 'body'
      const errors = (error.validation as AjvError[]).map((item) => describeSchemaError(context, item))
      const detail = errors.map((e) => `${e.pointer || e.parameter || 'body'}: ${e.detail}`).join('; ')
      return send(reply, 400, problemFor(request, 400, 'INVALID_REQUEST', detail, errors))
    }
    if (isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable or saturated')
      reply.header('retry-after', '1')
      const detail = 'The database is unavailable or busy; retry shortly'
      return send(reply, 503, problemFor(request, 503, 'SERVICE_UNAVAILABLE', detail))
    }
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed')
      const detail = status === 503 ? error.message : 'The server failed to handle this request'
      return send(reply, status, problemFor(request, status, error.code ?? 'INTERNAL_ERROR', detail))
    }
    const code = error.code?.replace(/^FST_ERR_CTP_/, '') ?? 'BAD_REQUEST'
    return send(reply, status, problemFor(request, status, code, error.message, error.violations))
  })

  app.setNotFoundHandler((request, reply) => {
    const error = new RouteNotFoundError(request.method, request.url.split('?')[0] ?? '')
    return send(reply, 404, problemFor(request, 404, error.code, error.message))
  })
}

export default fp(errorsPlugin, { name: 'errors' })
