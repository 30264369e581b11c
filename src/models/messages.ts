import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors'
import { ELEMENT_NAME_PATTERN, HTTP_URL_PATTERN, NON_BLANK_PATTERN } from './common.js'
import type { ModelDefinition, Violation } from './types.js'

// Turns TypeBox's terse errors ("Expected union value") into sentences about the field.

const PATTERN_MESSAGES: Readonly<Record<string, string>> = {
  [HTTP_URL_PATTERN]: 'must be an absolute http(s) URL',
  [NON_BLANK_PATTERN]: 'must not be empty or whitespace only',
  [ELEMENT_NAME_PATTERN]:
    'must be one word of letters, digits and underscores, not starting with a digit (it is referenced as @name)',
}

type Schema = Record<string, unknown>

const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value))

function countMessage(schema: Schema, noun: string): string {
  const min = schema['minItems'] as number | undefined
  const max = schema['maxItems'] as number | undefined
  const n = (k: number) => `${k} ${noun}${k === 1 ? '' : 's'}`
  if (min !== undefined && min === max) return `must have exactly ${n(min)}`
  if (min !== undefined && max !== undefined) return `must have between ${min} and ${n(max)}`
  if (min !== undefined) return `must have at least ${n(min)}`
  return `must have at most ${n(max ?? 0)}`
}

function numberMessage(schema: Schema): string {
  const kind = schema['type'] === 'integer' ? 'an integer' : 'a number'
  const min = schema['minimum'] as number | undefined
  const max = schema['maximum'] as number | undefined
  if (min !== undefined && max !== undefined) return `must be ${kind} between ${min} and ${max}`
  if (min !== undefined) return `must be ${kind} of at least ${min}`
  if (max !== undefined) return `must be ${kind} of at most ${max}`
  return `must be ${kind}`
}

function unionMessage(schema: Schema): string {
  const variants = (schema['anyOf'] as Schema[] | undefined) ?? []
  if (variants.length > 0 && variants.every((v) => 'const' in v)) {
    return `must be one of ${variants.map((v) => show(v['const'])).join(', ')}`
  }
  return 'does not match any allowed form'
}

function unknownFieldMessage(error: ValueError, model: ModelDefinition): string {
  const segments = error.path.split('/').slice(1)
  const field = segments.at(-1) ?? ''
  const allowed = Object.keys((error.schema['properties'] as Schema | undefined) ?? {}).join(', ')
  if (segments.length === 1) {
    // hasOwn: a client may well send "constructor" or "__proto__" as a field name.
    const hints = model.unsupportedFields ?? {}
    const hint = Object.hasOwn(hints, field) ? hints[field] : undefined
    return hint ?? `is not a field of ${model.id} (its fields: ${allowed})`
  }
  return `is not a known field here (allowed: ${allowed})`
}

/** One sentence for one TypeBox error. */
export function describeError(error: ValueError, model: ModelDefinition): string {
  const schema = error.schema as Schema
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required'
    case ValueErrorType.ObjectAdditionalProperties:
      return unknownFieldMessage(error, model)
    case ValueErrorType.Object:
      return 'must be an object'
    case ValueErrorType.Array:
      return 'must be a list'
    case ValueErrorType.ArrayMinItems:
    case ValueErrorType.ArrayMaxItems:
      return countMessage(schema, 'item')
    case ValueErrorType.String:
      return 'must be a string'
    case ValueErrorType.StringMaxLength:
      return `must be at most ${String(schema['maxLength'])} characters`
    case ValueErrorType.StringMinLength:
      return `must be at least ${String(schema['minLength'])} characters`
    case ValueErrorType.StringPattern:
      return PATTERN_MESSAGES[String(schema['pattern'])] ?? `must match ${String(schema['pattern'])}`
    case ValueErrorType.Boolean:
      return 'must be true or false'
    case ValueErrorType.Number:
    case ValueErrorType.Integer:
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.IntegerMaximum:
      return numberMessage(schema)
    case ValueErrorType.Union:
      return unionMessage(schema)
    case ValueErrorType.Literal:
      return `must be ${show(schema['const'])}`
    default:
      return `is invalid (${error.message})`
  }
}

/**
 * All TypeBox errors as violations, one per pointer: TypeBox reports a missing field twice
 * ("required", then "expected string") and several errors per bad value; the first is the
 * most telling, so it wins.
 */
export function describeErrors(errors: Iterable<ValueError>, model: ModelDefinition): Violation[] {
  const byPointer = new Map<string, string>()
  for (const error of errors) {
    if (!byPointer.has(error.path)) byPointer.set(error.path, describeError(error, model))
  }
  return Array.from(byPointer, ([pointer, message]) => ({ pointer, message }))
}
