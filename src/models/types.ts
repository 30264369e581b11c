import type { Static, TObject } from '@sinclair/typebox'

/** One broken rule: where (a JSON pointer) and why, in plain words. */
export interface Violation {
  /**
   * A JSON pointer. Inside `ModelDefinition.rules()` it is relative to the model's `input`
   * (e.g. "/resolution", "/multi_prompt/2/duration"; "" means the input as a whole).
   * `normalizeTaskInput` returns pointers relative to the request body instead:
   * "/model" for model problems and "/input/..." for input problems.
   */
  pointer: string
  /** A sentence a person understands, e.g. "1080p is only available with duration 6". */
  message: string
}

/** How a model is priced, for GET /v1/models. */
export interface ModelPricing {
  /** The documented price rule in words. */
  note: string
  /** Price-relevant input fields; each is priced with `estimateCredits` over the defaults. */
  examples: ReadonlyArray<Readonly<Record<string, unknown>>>
}

/** One PoYo model: its input schema, the rules a schema cannot express, defaults and price. */
export interface ModelDefinition<S extends TObject = TObject> {
  /** PoYo's model id, e.g. "kling-3.0/pro". */
  id: string
  /** The family the model belongs to, e.g. "kling-3.0"; deadlines are set per family. */
  family: string
  title: string
  /** JSON Schema (TypeBox) of `input`; unknown fields are rejected; `default`s are applied. */
  inputSchema: S
  /** Cross-field rules, run only on input that already matches `inputSchema`. */
  rules(input: Static<S>): Violation[]
  /** Credits PoYo will charge if the task finishes. */
  estimateCredits(input: Static<S>): number
  /**
   * Top-level fields this model deliberately lacks, with the message to give when a client
   * sends one anyway (better than a bare "unknown field").
   */
  unsupportedFields?: Readonly<Record<string, string>>
  pricing?: ModelPricing
}
