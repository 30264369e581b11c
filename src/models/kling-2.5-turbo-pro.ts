import { type Static, Type } from '@sinclair/typebox'
import { checkUrl, HttpUrl, NON_BLANK_PATTERN, Prompt } from './common.js'
import type { ModelDefinition, Violation } from './types.js'

// PoYo documents no limit for negative_prompt; 2500 characters is our own cap.
const NEGATIVE_PROMPT_MAX = 2500

export const kling25TurboProInputSchema = Type.Object(
  {
    prompt: Prompt(2500, 'What happens in the video (at most 2500 characters).'),
    duration: Type.Optional(
      Type.Union([Type.Literal(5), Type.Literal(10)], {
        default: 5,
        description: 'Video length in seconds.',
      }),
    ),
    start_image_url: Type.Optional(HttpUrl('First frame of the video.')),
    end_image_url: Type.Optional(HttpUrl('Last frame of the video.')),
    // PoYo documents aspect_ratio as a free string (its example uses "16:9"), so we pass it through.
    aspect_ratio: Type.Optional(
      Type.String({ pattern: NON_BLANK_PATTERN, description: 'Frame shape, e.g. "16:9".' }),
    ),
    negative_prompt: Type.Optional(
      Prompt(NEGATIVE_PROMPT_MAX, 'What to keep out of the video (at most 2500 characters).'),
    ),
  },
  { additionalProperties: false },
)

type Kling25Input = Static<typeof kling25TurboProInputSchema>

function rules(input: Kling25Input): Violation[] {
  return [
    ...(input.start_image_url === undefined ? [] : checkUrl('/start_image_url', input.start_image_url)),
    ...(input.end_image_url === undefined ? [] : checkUrl('/end_image_url', input.end_image_url)),
  ]
}

export const kling25TurboPro: ModelDefinition<typeof kling25TurboProInputSchema> = {
  id: 'kling-2.5-turbo-pro',
  family: 'kling-2.5-turbo-pro',
  title: 'Kling 2.5 Turbo Pro (text to video, optional start/end frames)',
  inputSchema: kling25TurboProInputSchema,
  rules,
  estimateCredits: (input) => (input.duration === 10 ? 84 : 42),
  pricing: { note: '42 credits for 5 s, 84 for 10 s', examples: [{ duration: 5 }, { duration: 10 }] },
}
