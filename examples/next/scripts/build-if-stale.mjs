// Builds the example with `next build` unless .next holds a build newer than every input: the
// example's own files and the `dist` of every @codeflow workspace package it depends on. `pnpm
// test` runs it, so the built app the tests start is never stale, and never rebuilt for nothing.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const example = join(dirname(fileURLToPath(import.meta.url)), '..')
const SKIP = new Set(['node_modules', '.next', 'scripts'])

/** The newest modification time under `path` (a file or a folder), skipping SKIP folders. */
function newest(path) {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  let time = 0
  for (const entry of readdirSync(path)) {
    if (!SKIP.has(entry)) time = Math.max(time, newest(join(path, entry)))
  }
  return time
}

/** The `dist` folders of the @codeflow packages `dir` depends on, and theirs, and so on. */
function workspaceOutputs(dir, seen = new Set()) {
  const scope = join(dir, 'node_modules/@codeflow')
  if (!existsSync(scope)) return seen
  for (const name of readdirSync(scope)) {
    const real = realpathSync(join(scope, name))
    if (seen.has(real)) continue
    seen.add(real)
    workspaceOutputs(real, seen)
  }
  return seen
}

const buildId = join(example, '.next/BUILD_ID')
const built = existsSync(buildId) ? statSync(buildId).mtimeMs : 0
const inputs = [example, ...[...workspaceOutputs(example)].map((dir) => join(dir, 'dist'))]
const stale = inputs.filter((path) => existsSync(path) && newest(path) > built)
if (built > 0 && stale.length === 0) {
  console.log('examples/next: the build is up to date')
} else {
  console.log(`examples/next: building (${built ? 'changed since the last build' : 'no build'})`)
  const next = join(example, 'node_modules/next/dist/bin/next')
  const result = spawnSync(process.execPath, [next, 'build'], {
    cwd: example,
    stdio: 'inherit',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  })
  process.exitCode = result.status ?? 1
}
