import { InvalidRequestError } from '../errors.js'

/** A 400 naming one query parameter, shaped like the schema-validation errors. */
export function invalidParameter(parameter: string, detail: string) {
  return Object.assign(new InvalidRequestError(`${parameter}: ${detail}`), {
    violations: [{ parameter, detail }],
  })
}

/** An ISO timestamp the schema already accepted as `date-time`, as a Date. */
export function parseInstant(parameter: string, value: string): Date {
  const date = new Date(value)
  // The format check accepts a few values Date cannot hold (years past 275760, leap seconds).
  if (Number.isNaN(date.getTime())) throw invalidParameter(parameter, 'must be a valid date-time')
  return date
}
