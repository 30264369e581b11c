import { Type } from '@sinclair/typebox'
import type { Violation } from './types.js'

// TypeBox compiles `pattern` with `new RegExp(pattern)` (no flags), so patterns stay ASCII
// and spell out case-insensitivity. messages.ts turns each into a sentence.

/** Scheme, "://", a non-empty host part, no whitespace. `checkUrl` then parses it for real. */
export const HTTP_URL_PATTERN = '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+\\S*$'
/** At least one non-whitespace character: prompts must say something. */
export const NON_BLANK_PATTERN = '\\S'
/** Element names are referenced as `@name` in prompts, so they must be one word. */
export const ELEMENT_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$'

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'] as const
export const VIDEO_EXTENSIONS = ['.mp4', '.mov'] as const

export const HttpUrl = (description: string) => Type.String({ pattern: HTTP_URL_PATTERN, description })

export const Prompt = (maxLength: number, description: string) =>
  Type.String({ maxLength, pattern: NON_BLANK_PATTERN, description })

/**
 * Checks what the schema pattern cannot: that `new URL()` accepts the string as an http(s)
 * URL with a host, and (optionally) that its path ends in one of `extensions`. The query
 * string and fragment are ignored and case does not matter ("A.PNG?x=1" is a png).
 */
export function checkUrl(pointer: string, url: string, extensions?: readonly string[]): Violation[] {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return [{ pointer, message: 'must be an absolute http(s) URL' }]
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') {
    return [{ pointer, message: 'must be an absolute http(s) URL' }]
  }
  if (extensions !== undefined) {
    const path = decodePath(parsed.pathname).toLowerCase()
    if (!extensions.some((ext) => path.endsWith(ext))) {
      return [{ pointer, message: `must be a ${orList(extensions)} file (judged by the URL path)` }]
    }
  }
  return []
}

/** `checkUrl` for each item of an optional list. */
export function checkUrls(
  pointer: string,
  urls: readonly string[] | undefined,
  extensions?: readonly string[],
): Violation[] {
  return (urls ?? []).flatMap((url, i) => checkUrl(`${pointer}/${i}`, url, extensions))
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path)
  } catch {
    return path
  }
}

/**
 * `@word` mentions in a prompt. Only an "@" at the start or after whitespace/punctuation
 * counts, so e-mail addresses ("me@example.com") are not mentions.
 */
export function findMentions(text: string): string[] {
  return Array.from(text.matchAll(/(?<=^|[\s\p{P}\p{S}])@([A-Za-z_][A-Za-z0-9_]*)/gu), (m) => m[1] ?? '')
}

/** ["a", "b", "c"] → "a, b or c". */
export function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`
}
