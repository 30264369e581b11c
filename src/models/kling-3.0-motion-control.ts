import { type Static, Type } from '@sinclair/typebox'
import { checkUrl, checkUrls, HttpUrl, IMAGE_EXTENSIONS, Prompt, VIDEO_EXTENSIONS } from './common.js'
import type { ModelDefinition, Violation } from './types.js'

const Element = Type.Object(
  {
    frontal_image_url: HttpUrl('Front view of the element (.jpg, .jpeg or .png).'),
    reference_image_urls: Type.Array(HttpUrl('Another view of the element (.jpg, .jpeg or .png).'), {
      minItems: 1,
      maxItems: 3,
      description: '1–3 more images of the element.',
    }),
  },
  { additionalProperties: false },
)

export const motionControlInputSchema = Type.Object(
  {
    image_urls: Type.Array(HttpUrl('Image of the character (.jpg, .jpeg or .png, at most 10 MB).'), {
      minItems: 1,
      maxItems: 1,
      description: 'Exactly 1 reference image: the character to animate.',
    }),
    video_urls: Type.Array(HttpUrl('Video whose motion is transferred (.mp4 or .mov, at most 100 MB).'), {
      minItems: 1,
      maxItems: 1,
      description:
        'Exactly 1 reference video, at least 3 s; at most 10 s with orientation "image", 30 s with "video".',
    }),
    character_orientation: Type.Union([Type.Literal('image'), Type.Literal('video')], {
      description: 'Whether the character faces as in the image or as in the video.',
    }),
    prompt: Type.Optional(
      Prompt(2500, 'Optional scene description (at most 2500 characters); the element is @Element1.'),
    ),
    resolution: Type.Optional(
      Type.Union([Type.Literal('720p'), Type.Literal('1080p')], {
        default: '720p',
        description: 'Output resolution.',
      }),
    ),
    kling_elements: Type.Optional(
      Type.Array(Element, {
        minItems: 1,
        maxItems: 1,
        description:
          'At most 1 element, only with character_orientation "video"; prompts mention it as @Element1.',
      }),
    ),
  },
  { additionalProperties: false },
)

type MotionControlInput = Static<typeof motionControlInputSchema>

/** PoYo names elements by position (@Element1, @Element2, …); this model takes at most one. */
function mentionRules(input: MotionControlInput): Violation[] {
  if (input.prompt === undefined) return []
  const hasElement = (input.kling_elements?.length ?? 0) > 0
  const mentions = Array.from(
    input.prompt.matchAll(/(?<=^|[\s\p{P}\p{S}])@(element\d+)/giu),
    (m) => m[1] ?? '',
  )
  return [...new Set(mentions)]
    .filter((name) => !(hasElement && name === 'Element1'))
    .map((name) => ({
      pointer: '/prompt',
      message: hasElement
        ? `mentions @${name}; the only element is @Element1`
        : `mentions @${name}, but no kling_elements are given`,
    }))
}

function rules(input: MotionControlInput): Violation[] {
  const out: Violation[] = [
    ...checkUrls('/image_urls', input.image_urls, IMAGE_EXTENSIONS),
    ...checkUrls('/video_urls', input.video_urls, VIDEO_EXTENSIONS),
  ]
  if (input.kling_elements !== undefined && input.character_orientation !== 'video') {
    out.push({ pointer: '/kling_elements', message: 'is only allowed when character_orientation is "video"' })
  }
  input.kling_elements?.forEach((element, i) => {
    // The model page says its images are .jpg/.jpeg/.png; we apply that to element images too.
    out.push(
      ...checkUrl(`/kling_elements/${i}/frontal_image_url`, element.frontal_image_url, IMAGE_EXTENSIONS),
    )
    out.push(
      ...checkUrls(
        `/kling_elements/${i}/reference_image_urls`,
        element.reference_image_urls,
        IMAGE_EXTENSIONS,
      ),
    )
  })
  out.push(...mentionRules(input))
  return out
}

export const kling30MotionControl: ModelDefinition<typeof motionControlInputSchema> = {
  id: 'kling-3.0-motion-control',
  family: 'kling-3.0-motion-control',
  title: 'Kling 3.0 Motion Control (motion from a video onto a character image)',
  inputSchema: motionControlInputSchema,
  rules,
  // PoYo documents no price for this model; 0 means "unknown", not "free". The real charge
  // arrives as credits_amount in the task status.
  estimateCredits: () => 0,
  pricing: { note: 'PoYo documents no price for this model; the estimate is 0 (unknown)', examples: [] },
}
