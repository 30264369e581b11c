/** A seedable random source (mulberry32), so fault probabilities and task ids replay in tests. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number
  /** `length` characters drawn from `alphabet`. */
  string(length: number, alphabet?: string): string
}

export function createRandom(seed: number): Random {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    string(length, alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789') {
      let out = ''
      for (let i = 0; i < length; i++) out += alphabet[Math.floor(next() * alphabet.length)]
      return out
    },
  }
}
