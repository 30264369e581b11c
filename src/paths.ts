import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** The folder holding package.json: the same from src/ (tsx) and from dist/src/ (built). */
function findPackageRoot(start: string): string {
  let dir = start
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`no package.json above ${start}`)
    dir = parent
  }
  return dir
}

export const packageRoot = findPackageRoot(import.meta.dirname)
