import { type Static, Type } from '@sinclair/typebox'
import { checkUrl, HttpUrl, Prompt } from './common.js'
import type { ModelDefinition, Violation } from './types.js'

export const hailuo23InputSchema = Type.Object(
  {
    prompt: Prompt(5000, 'What happens in the video (at most 5000 characters).'),
    duration: Type.Optional(
      Type.Union([Type.Literal(6), Type.Literal(10)], {
        default: 6,
        description: 'Video length in seconds; 1080p only with 6.',
      }),
    ),
    resolution: Type.Optional(
      Type.Union([Type.Literal('768p'), Type.Literal('1080p')], {
        default: '768p',
        description: 'Output resolution; 1080p only with duration 6.',
      }),
    ),
    start_image_url: Type.Optional(HttpUrl('First frame of the video.')),
    prompt_optimizer: Type.Optional(
      Type.Boolean({ description: 'Let PoYo rewrite the prompt for better results.' }),
    ),
  },
  { additionalProperties: false },
)

type Hailuo23Input = Static<typeof hailuo23InputSchema>

function rules(input: Hailuo23Input): Violation[] {
  const out: Violation[] = []
  if (input.resolution === '1080p' && input.duration !== 6) {
    out.push({ pointer: '/resolution', message: '1080p is only available with duration 6' })
  }
  if (input.start_image_url !== undefined) out.push(...checkUrl('/start_image_url', input.start_image_url))
  return out
}

export const hailuo23: ModelDefinition<typeof hailuo23InputSchema> = {
  id: 'hailuo-2.3',
  family: 'hailuo-2.3',
  title: 'Hailuo 2.3 (text to video, optional start frame)',
  inputSchema: hailuo23InputSchema,
  rules,
  estimateCredits: (input) => {
    if (input.resolution === '1080p') return 60
    return input.duration === 10 ? 70 : 35
  },
  unsupportedFields: { end_image_url: 'end_image_url is not supported by hailuo-2.3 (only start_image_url)' },
  pricing: {
    note: '768p: 35 credits for 6 s, 70 for 10 s; 1080p (6 s only): 60',
    examples: [
      { duration: 6, resolution: '768p' },
      { duration: 10, resolution: '768p' },
      { duration: 6, resolution: '1080p' },
    ],
  },
}
