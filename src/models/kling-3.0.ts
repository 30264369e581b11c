import { type Static, Type } from '@sinclair/typebox'
import {
  checkUrls,
  ELEMENT_NAME_PATTERN,
  findMentions,
  HttpUrl,
  IMAGE_EXTENSIONS,
  orList,
  Prompt,
  VIDEO_EXTENSIONS,
} from './common.js'
import type { ModelDefinition, Violation } from './types.js'

const MAX_TOTAL_SECONDS = 15

const Shot = Type.Object(
  {
    prompt: Prompt(
      2500,
      'What happens in this shot (at most 2500 characters); may mention elements as @name.',
    ),
    duration: Type.Integer({ minimum: 1, maximum: 12, description: 'Length of this shot in seconds, 1–12.' }),
  },
  { additionalProperties: false },
)

const Element = Type.Object(
  {
    name: Type.String({
      pattern: ELEMENT_NAME_PATTERN,
      description: 'Unique name of the element; prompts refer to it as @name.',
    }),
    description: Type.Optional(Type.String({ description: 'What the element is.' })),
    element_input_urls: Type.Optional(
      Type.Array(HttpUrl('Image of the element (.jpg, .jpeg or .png, at most 10 MB).'), {
        minItems: 2,
        maxItems: 4,
        description: '2–4 images of the element. Give these or element_input_video_urls.',
      }),
    ),
    element_input_video_urls: Type.Optional(
      Type.Array(HttpUrl('Video of the element (.mp4 or .mov, at most 50 MB).'), {
        minItems: 1,
        maxItems: 1,
        description: 'Exactly 1 video of the element. Give this or element_input_urls.',
      }),
    ),
  },
  { additionalProperties: false },
)

export const kling30InputSchema = Type.Object(
  {
    prompt: Type.Optional(
      Prompt(
        2500,
        'What to generate (at most 2500 characters); required when multi_shots is false. ' +
          'May mention elements as @name.',
      ),
    ),
    duration: Type.Integer({
      minimum: 3,
      maximum: 15,
      description: 'Video length in seconds, 3–15. With multi_shots it is the total of the shot durations.',
    }),
    multi_shots: Type.Optional(
      Type.Boolean({ default: false, description: 'Tell the story in several shots (see multi_prompt).' }),
    ),
    sound: Type.Optional(
      Type.Boolean({
        default: true,
        description: 'Generate native audio. Must be true when multi_shots is true; changes the price.',
      }),
    ),
    multi_prompt: Type.Optional(
      Type.Array(Shot, {
        minItems: 1,
        description:
          'The shots, in order; required when multi_shots is true and not allowed otherwise. ' +
          'Shot durations must add up to `duration` (at most 15 s).',
      }),
    ),
    image_urls: Type.Optional(
      Type.Array(HttpUrl('Frame image URL.'), {
        minItems: 1,
        maxItems: 2,
        description:
          'Single-shot: [start] or [start, end] frame. Multi-shot: [start] only. Required with kling_elements.',
      }),
    ),
    kling_elements: Type.Optional(
      Type.Array(Element, {
        minItems: 1,
        description: 'Reusable elements (from images or a video) that prompts mention as @name.',
      }),
    ),
    aspect_ratio: Type.Optional(
      Type.Union([Type.Literal('1:1'), Type.Literal('16:9'), Type.Literal('9:16')], {
        description: 'Frame shape; ignored when a start frame is given.',
      }),
    ),
  },
  { additionalProperties: false },
)

type Kling30Input = Static<typeof kling30InputSchema>

/**
 * `duration` is documented as the total in multi-shot mode, so we require the shot durations
 * to add up to exactly `duration` (which also keeps them within the documented 15 s).
 */
function multiShotRules(input: Kling30Input): Violation[] {
  const out: Violation[] = []
  if (input.sound === false) out.push({ pointer: '/sound', message: 'must be true when multi_shots is true' })
  if (input.image_urls !== undefined && input.image_urls.length !== 1) {
    out.push({
      pointer: '/image_urls',
      message: 'must have exactly 1 item (the start frame) when multi_shots is true',
    })
  }
  if (input.multi_prompt === undefined) {
    out.push({ pointer: '/multi_prompt', message: 'is required when multi_shots is true' })
    return out
  }
  const total = input.multi_prompt.reduce((sum, shot) => sum + shot.duration, 0)
  if (total > MAX_TOTAL_SECONDS) {
    out.push({
      pointer: '/multi_prompt',
      message: `shot durations must add up to at most ${MAX_TOTAL_SECONDS} s (they add up to ${total} s)`,
    })
  } else if (total !== input.duration) {
    out.push({
      pointer: '/duration',
      message: `must equal the sum of the multi_prompt shot durations (${total} s) when multi_shots is true`,
    })
  }
  return out
}

function singleShotRules(input: Kling30Input): Violation[] {
  const out: Violation[] = []
  if (input.prompt === undefined) {
    out.push({ pointer: '/prompt', message: 'is required when multi_shots is false' })
  }
  if (input.multi_prompt !== undefined) {
    out.push({ pointer: '/multi_prompt', message: 'is only allowed when multi_shots is true' })
  }
  return out
}

function elementRules(input: Kling30Input): Violation[] {
  const elements = input.kling_elements ?? []
  const out: Violation[] = []
  if (elements.length > 0 && input.image_urls === undefined) {
    out.push({ pointer: '/image_urls', message: 'is required when kling_elements is given' })
  }
  const seen = new Map<string, number>()
  elements.forEach((element, i) => {
    const at = `/kling_elements/${i}`
    const first = seen.get(element.name)
    if (first !== undefined) {
      out.push({
        pointer: `${at}/name`,
        message: `must be unique; "${element.name}" is already the name of kling_elements item ${first}`,
      })
    } else {
      seen.set(element.name, i)
    }
    if (element.element_input_urls === undefined && element.element_input_video_urls === undefined) {
      out.push({
        pointer: at,
        message: 'needs element_input_urls (2–4 images) or element_input_video_urls (1 video)',
      })
    }
    out.push(...checkUrls(`${at}/element_input_urls`, element.element_input_urls, IMAGE_EXTENSIONS))
    out.push(
      ...checkUrls(`${at}/element_input_video_urls`, element.element_input_video_urls, VIDEO_EXTENSIONS),
    )
  })
  return out
}

/** Every `@name` in every prompt must be the name of a declared element. */
function mentionRules(input: Kling30Input): Violation[] {
  const names = (input.kling_elements ?? []).map((e) => e.name)
  const declared =
    names.length > 0
      ? `declared: ${orList([...new Set(names)].map((n) => `@${n}`))}`
      : 'no kling_elements are given'
  const prompts: Array<[string, string]> = []
  if (input.prompt !== undefined) prompts.push(['/prompt', input.prompt])
  input.multi_prompt?.forEach((shot, i) => {
    prompts.push([`/multi_prompt/${i}/prompt`, shot.prompt])
  })
  return prompts.flatMap(([pointer, text]) => {
    const unknown = [...new Set(findMentions(text).filter((name) => !names.includes(name)))]
    return unknown.map((name) => ({
      pointer,
      message: `mentions @${name}, which is not the name of a kling_elements item (${declared})`,
    }))
  })
}

function rules(input: Kling30Input): Violation[] {
  return [
    ...(input.multi_shots === true ? multiShotRules(input) : singleShotRules(input)),
    ...checkUrls('/image_urls', input.image_urls),
    ...elementRules(input),
    ...mentionRules(input),
  ]
}

/** Credits per second: [with sound, without sound]. */
const RATES = { standard: [39, 27], pro: [49, 39] } as const

function kling30(variant: keyof typeof RATES, title: string): ModelDefinition<typeof kling30InputSchema> {
  const [withSound, withoutSound] = RATES[variant]
  return {
    id: `kling-3.0/${variant}`,
    family: 'kling-3.0',
    title,
    inputSchema: kling30InputSchema,
    rules,
    estimateCredits: (input) => input.duration * (input.sound === false ? withoutSound : withSound),
    pricing: {
      note: `duration × ${withSound} credits with sound, duration × ${withoutSound} without`,
      examples: [3, 5, 10, 15].flatMap((duration) => [
        { duration, sound: true },
        { duration, sound: false },
      ]),
    },
  }
}

export const kling30Standard = kling30('standard', 'Kling 3.0 Standard (~720p)')
export const kling30Pro = kling30('pro', 'Kling 3.0 Pro (1080p)')
