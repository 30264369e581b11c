import { type Static, Type } from '@sinclair/typebox'
import { checkUrl, HttpUrl, Prompt } from './common.js'
import type { ModelDefinition, Violation } from './types.js'

// PoYo documents no limit for negative_prompt; 2500 characters is our own cap.
const NEGATIVE_PROMPT_MAX = 2500

const fields = {
  prompt: Prompt(5000, 'What happens in the video (at most 5000 characters).'),
  start_image_url: HttpUrl('First frame of the video.'),
  duration: Type.Optional(
    Type.Union([Type.Literal(5), Type.Literal(10)], { default: 5, description: 'Video length in seconds.' }),
  ),
  negative_prompt: Type.Optional(
    Prompt(NEGATIVE_PROMPT_MAX, 'What to keep out of the video (at most 2500 characters).'),
  ),
}

export const kling21StandardInputSchema = Type.Object(fields, { additionalProperties: false })

export const kling21ProInputSchema = Type.Object(
  { ...fields, end_image_url: Type.Optional(HttpUrl('Last frame of the video.')) },
  { additionalProperties: false },
)

type Kling21ProInput = Static<typeof kling21ProInputSchema>

function rules(input: Kling21ProInput): Violation[] {
  return [
    ...checkUrl('/start_image_url', input.start_image_url),
    ...(input.end_image_url === undefined ? [] : checkUrl('/end_image_url', input.end_image_url)),
  ]
}

/** Credits for [5 s, 10 s]. */
const PRICES = { standard: [30, 60], pro: [55, 110] } as const

const price = (variant: keyof typeof PRICES) => (input: { duration?: 5 | 10 }) =>
  input.duration === 10 ? PRICES[variant][1] : PRICES[variant][0]

const pricing = (variant: keyof typeof PRICES) => ({
  note: `${PRICES[variant][0]} credits for 5 s, ${PRICES[variant][1]} for 10 s`,
  examples: [{ duration: 5 }, { duration: 10 }],
})

export const kling21Standard: ModelDefinition<typeof kling21StandardInputSchema> = {
  id: 'kling-2.1/standard',
  family: 'kling-2.1',
  title: 'Kling 2.1 Standard (image to video)',
  inputSchema: kling21StandardInputSchema,
  rules,
  estimateCredits: price('standard'),
  unsupportedFields: { end_image_url: 'end_image_url is only supported by kling-2.1/pro' },
  pricing: pricing('standard'),
}

export const kling21Pro: ModelDefinition<typeof kling21ProInputSchema> = {
  id: 'kling-2.1/pro',
  family: 'kling-2.1',
  title: 'Kling 2.1 Pro (image to video, optional end frame)',
  inputSchema: kling21ProInputSchema,
  rules,
  estimateCredits: price('pro'),
  pricing: pricing('pro'),
}
