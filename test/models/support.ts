import type { Test } from 'tap'
import { normalizeTaskInput } from '../../src/models/index.js'

/** Asserts exactly one violation, at `pointer`, whose message matches `message`. */
export function rejects(t: Test, model: string, input: unknown, pointer: string, message: RegExp) {
  const result = normalizeTaskInput(model, input)
  const found = result.ok ? [] : result.violations
  t.equal(found.length, 1, `one violation: ${JSON.stringify(found)}`)
  t.equal(found[0]?.pointer, pointer)
  t.match(found[0]?.message, message)
}

/** Asserts the input is accepted and returns the result. */
export function accepts(t: Test, model: string, input: unknown) {
  const result = normalizeTaskInput(model, input)
  t.ok(result.ok, JSON.stringify(result.ok ? null : result.violations))
  return result
}

/** `rejects` and `accepts` bound to one model. */
export function checksFor(model: string) {
  return {
    rejects: (t: Test, input: unknown, pointer: string, message: RegExp) =>
      rejects(t, model, input, pointer, message),
    accepts: (t: Test, input: unknown) => accepts(t, model, input),
  }
}
