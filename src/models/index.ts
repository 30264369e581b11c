import type { TObject } from '@sinclair/typebox'
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import { hailuo23 } from './hailuo-2.3.js'
import { kling21Pro, kling21Standard } from './kling-2.1.js'
import { kling25TurboPro } from './kling-2.5-turbo-pro.js'
import { kling30Pro, kling30Standard } from './kling-3.0.js'
import { kling30MotionControl } from './kling-3.0-motion-control.js'
import { describeErrors } from './messages.js'
import type { ModelDefinition, Violation } from './types.js'

export type { ModelDefinition, ModelPricing, Violation } from './types.js'

const definitions: ModelDefinition[] = [
  kling30Standard,
  kling30Pro,
  kling21Standard,
  kling21Pro,
  kling30MotionControl,
  kling25TurboPro,
  hailuo23,
]

export const modelCatalog: ReadonlyMap<string, ModelDefinition> = new Map(definitions.map((m) => [m.id, m]))

// Compiling is slow and checking with a compiled checker is fast: do it once, at load.
const checkers = new Map<string, TypeCheck<TObject>>(
  definitions.map((m) => [m.id, TypeCompiler.Compile(m.inputSchema)]),
)

export type NormalizeResult =
  | { ok: true; model: ModelDefinition; input: Record<string, unknown>; estimatedCredits: number }
  | { ok: false; violations: Violation[] }

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const underInput = (violations: Violation[]): Violation[] =>
  violations.map((v) => ({ pointer: `/input${v.pointer}`, message: v.message }))

/**
 * Validates a submit request's `model` and `input` and returns the input exactly as it will
 * be sent to PoYo (documented defaults filled in, nothing else). On failure returns every
 * violation found, with pointers relative to the request body ("/model", "/input/...").
 * Cross-field rules run only once the schema passes, since they assume its shape.
 * Never throws.
 */
export function normalizeTaskInput(modelId: unknown, input: unknown): NormalizeResult {
  const model = typeof modelId === 'string' ? modelCatalog.get(modelId) : undefined
  const check = model && checkers.get(model.id)
  if (model === undefined || check === undefined) {
    const known = [...modelCatalog.keys()].join(', ')
    const given =
      typeof modelId === 'string' ? `unknown model ${JSON.stringify(modelId)}` : 'must be a string'
    return { ok: false, violations: [{ pointer: '/model', message: `${given}; known models: ${known}` }] }
  }
  if (!isObject(input)) {
    return { ok: false, violations: [{ pointer: '/input', message: 'must be an object' }] }
  }
  try {
    // A JSON round trip is both the copy Value.Default may fill in place and exactly what PoYo
    // will receive; unlike Value.Clone it keeps an own "__proto__" key, so that gets rejected.
    const value: unknown = Value.Default(model.inputSchema, JSON.parse(JSON.stringify(input)))
    if (!check.Check(value)) {
      return { ok: false, violations: underInput(describeErrors(check.Errors(value), model)) }
    }
    const violations = model.rules(value)
    if (violations.length > 0) return { ok: false, violations: underInput(violations) }
    return { ok: true, model, input: value, estimatedCredits: model.estimateCredits(value) }
  } catch {
    // Only reachable with values JSON cannot carry (cycles, BigInts, throwing getters).
    return { ok: false, violations: [{ pointer: '/input', message: 'could not be read as JSON data' }] }
  }
}

/** One model as GET /v1/models shows it. */
export interface ModelCatalogEntry {
  id: string
  family: string
  title: string
  /** Plain JSON Schema of `input` (TypeBox's symbol keys removed). */
  input_schema: Record<string, unknown>
  /** The values filled in for fields the client leaves out. */
  defaults: Record<string, unknown>
  credits: {
    /** The documented price rule in words. */
    pricing: string
    /** Credits for typical inputs: `input` lists the price-relevant fields (defaults fill the rest). */
    examples: Array<{ input: Record<string, unknown>; credits: number }>
  }
}

function catalogEntry(model: ModelDefinition): ModelCatalogEntry {
  const defaults = Value.Default(model.inputSchema, {}) as Record<string, unknown>
  const examples = (model.pricing?.examples ?? []).map((example) => ({
    input: { ...example },
    // Examples hold only the price-relevant fields; the estimators read nothing else.
    credits: model.estimateCredits({ ...defaults, ...example }),
  }))
  return {
    id: model.id,
    family: model.family,
    title: model.title,
    input_schema: JSON.parse(JSON.stringify(model.inputSchema)) as Record<string, unknown>,
    defaults,
    credits: { pricing: model.pricing?.note ?? 'not documented', examples },
  }
}

/** The catalog as plain JSON data, in a stable order, for GET /v1/models. */
export function modelCatalogJson(): ModelCatalogEntry[] {
  return [...modelCatalog.values()].map(catalogEntry)
}
