/**
 * The fresh apps of the install job: what each installs from npm beside codeflow's tarballs, and
 * its files, taken from the root README's quick starts as they are printed there.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** A fresh app outside the workspace. */
export interface AppSpec {
  /** its folder name, and the name in the test titles */
  readonly name: string
  readonly framework: 'express' | 'koa' | 'fastify' | 'hono' | 'next'
  /** the framework's major version */
  readonly major: number
  /** codeflow's packages it installs, from their tarballs */
  readonly packages: readonly string[]
  /** what it installs from the npm registry, as `npm install` arguments */
  readonly dependencies: readonly string[]
  readonly devDependencies: readonly string[]
  /** `lowest` runs it on the lowest Node.js codeflow supports (22.13), when CI provides it */
  readonly node: 'current' | 'lowest'
}

const TYPES_NODE = '@types/node@^22'
// what a TypeScript app has today (the workspace itself builds with TypeScript 7)
const TYPESCRIPT = 'typescript@^5.9'

export const APPS: readonly AppSpec[] = [
  {
    name: 'express5',
    framework: 'express',
    major: 5,
    packages: ['core', 'express'],
    dependencies: ['express@^5'],
    devDependencies: [TYPESCRIPT, TYPES_NODE, '@types/express@^5'],
    node: 'current',
  },
  {
    name: 'express4',
    framework: 'express',
    major: 4,
    packages: ['core', 'express'],
    dependencies: ['express@^4.21'],
    devDependencies: [TYPESCRIPT, TYPES_NODE, '@types/express@^4'],
    node: 'lowest',
  },
  {
    name: 'koa3',
    framework: 'koa',
    major: 3,
    packages: ['core', 'koa'],
    dependencies: ['koa@^3', '@koa/router@^15'],
    devDependencies: [TYPESCRIPT, TYPES_NODE, '@types/koa@^3'],
    node: 'current',
  },
  {
    name: 'koa2',
    framework: 'koa',
    major: 2,
    packages: ['core', 'koa'],
    dependencies: ['koa@^2', '@koa/router@^15'],
    devDependencies: [TYPESCRIPT, TYPES_NODE, '@types/koa@^2'],
    node: 'lowest',
  },
  {
    name: 'fastify5',
    framework: 'fastify',
    major: 5,
    packages: ['core', 'fastify'],
    dependencies: ['fastify@^5'],
    devDependencies: [TYPESCRIPT, TYPES_NODE],
    node: 'lowest',
  },
  {
    name: 'hono4',
    framework: 'hono',
    major: 4,
    packages: ['core', 'hono'],
    dependencies: ['hono@^4', '@hono/node-server@^2'],
    devDependencies: [TYPESCRIPT, TYPES_NODE],
    node: 'current',
  },
  {
    name: 'next16',
    framework: 'next',
    major: 16,
    packages: ['core', 'next'],
    dependencies: ['next@^16', 'react@^19', 'react-dom@^19'],
    devDependencies: [TYPESCRIPT, TYPES_NODE, '@types/react@^19', '@types/react-dom@^19'],
    node: 'current',
  },
  {
    name: 'next15',
    framework: 'next',
    major: 15,
    packages: ['core', 'next'],
    dependencies: ['next@^15.5', 'react@^19', 'react-dom@^19'],
    devDependencies: [TYPESCRIPT, TYPES_NODE, '@types/react@^19', '@types/react-dom@^19'],
    node: 'lowest',
  },
]

/** A code block of the README: the file its first line names, and its text. */
interface Block {
  readonly file: string
  /** the Next.js major version it is for, when its first line says one */
  readonly next?: number
  readonly text: string
}

/** The code blocks of one `## Quick start: …` section of the README. */
function quickStart(readme: string, title: string): Block[] {
  const start = readme.indexOf(`## Quick start: ${title}\n`)
  if (start < 0) throw new Error(`README.md has no "## Quick start: ${title}" section`)
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end < 0 ? undefined : end)
  const blocks: Block[] = []
  for (const match of section.matchAll(/```tsx?\n([\s\S]*?)```/g)) {
    const text = match[1] as string
    const first = /^\/\/ ([\w./[\]-]+)(?: \(Next\.js (\d+)\))?/.exec(text)
    if (!first) throw new Error(`a quick start block does not name its file:\n${text}`)
    blocks.push({
      file: first[1] as string,
      ...(first[2] ? { next: Number(first[2]) } : {}),
      text,
    })
  }
  return blocks
}

/**
 * The one change the job makes to the README's code: the dev provider serves http, which
 * codeflow accepts only with `allowInsecureRequests` (the README says so beside the quick starts).
 */
function forDevProvider(text: string): string {
  // at whatever depth the options object sits (Fastify's register call, Hono's auth() in use())
  return text.replace(
    /^( *)issuer: process\.env\.OIDC_ISSUER!,\n/m,
    (line, indent: string) => `${line}${indent}allowInsecureRequests: true,\n`,
  )
}

/** A root layout as create-next-app makes it, without its Google font (there is no network). */
const NEXT_LAYOUT = `import type { ReactNode } from 'react'

export const metadata = { title: 'codeflow install check' }

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  )
}
`

/** The files of an app: the README's quick start for its framework, and what its framework needs. */
export function appFiles(app: AppSpec, root: string): Record<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const title = {
    express: 'Express',
    koa: 'Koa',
    fastify: 'Fastify',
    hono: 'Hono',
    next: 'Next.js',
  }[app.framework]
  const files: Record<string, string> = {}
  const blocks = quickStart(readme, title).filter(
    (block) => block.next === undefined || block.next === app.major,
  )
  for (const block of blocks) files[block.file] = forDevProvider(block.text)
  // strict, as a demanding user has it; create-next-app's settings for the Next.js apps
  const compilerOptions =
    app.framework === 'next'
      ? {
          target: 'ES2017',
          lib: ['dom', 'dom.iterable', 'esnext'],
          allowJs: true,
          skipLibCheck: true,
          strict: true,
          noEmit: true,
          esModuleInterop: true,
          module: 'esnext',
          moduleResolution: 'bundler',
          resolveJsonModule: true,
          isolatedModules: true,
          jsx: 'preserve',
          incremental: true,
          plugins: [{ name: 'next' }],
        }
      : {
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          allowImportingTsExtensions: true,
          verbatimModuleSyntax: true,
          types: ['node'],
        }
  files['tsconfig.json'] = `${JSON.stringify(
    {
      compilerOptions,
      include:
        app.framework === 'next'
          ? ['next-env.d.ts', '**/*.ts', '**/*.tsx', '.next/types/**/*.ts']
          : ['*.ts'],
      exclude: ['node_modules'],
    },
    null,
    2,
  )}\n`
  if (app.framework === 'next') {
    files['app/layout.tsx'] = NEXT_LAYOUT
    files['next-env.d.ts'] =
      '/// <reference types="next" />\n/// <reference types="next/image-types/global" />\n'
  }
  return files
}
