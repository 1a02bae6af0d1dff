// Runs before `pnpm pack` / `pnpm publish` in a package's folder: removes its dist and build info
// (so no file of an earlier layout is shipped) and builds it afresh with its references.
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// npm would ship "workspace:*" dependencies as they are: only pnpm rewrites them to versions
if (!process.env.npm_config_user_agent?.startsWith('pnpm/')) {
  console.error('pack and publish the packages with pnpm (pnpm pack:packages, pnpm release)')
  process.exit(1)
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
rmSync('dist', { recursive: true, force: true })
rmSync('tsconfig.tsbuildinfo', { force: true })
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const built = spawnSync(process.execPath, [tsc, '-b'], { stdio: 'inherit' })
process.exit(built.status ?? 1)
