import createError from '@fastify/error'

/**
 * Every error the service answers with on purpose, in one place. Each has a stable
 * code (clients may branch on it) and an HTTP status; the error handler turns them
 * into RFC 9457 problem documents.
 */
export const NotFoundError = createError<[string]>('TASK_NOT_FOUND', '%s was not found', 404)
export const RouteNotFoundError = createError<[string, string]>(
  'ROUTE_NOT_FOUND',
  'Route %s %s does not exist',
  404,
)
export const InvalidRequestError = createError<[string]>('INVALID_REQUEST', '%s', 400)
export const IdempotencyConflictError = createError<[string]>(
  'IDEMPOTENCY_KEY_REUSED',
  'Idempotency-Key "%s" was already used with a different request',
  409,
)
export const TaskNotSubmittedError = createError<[string]>(
  'TASK_NOT_SUBMITTED',
  'Task %s has not been accepted by PoYo yet; there is nothing to ask PoYo about',
  409,
)
export const UnauthorizedError = createError<[string]>('UNAUTHORIZED', '%s', 401)
export const ServiceUnavailableError = createError<[string]>('SERVICE_UNAVAILABLE', '%s', 503)

/** One problem with one field: where (JSON pointer into the body, or a parameter name) and why. */
export interface FieldViolation {
  pointer?: string
  parameter?: string
  detail: string
}

/** A 400 that lists every violation, used for model input that breaks the catalog's rules. */
export function validationFailed(violations: FieldViolation[]) {
  return Object.assign(new InvalidRequestError('The request has invalid fields'), { violations })
}
