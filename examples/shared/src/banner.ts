import type { ExampleConfig } from './config.js'

/** What an example prints when it is ready: the URL to open and what to type. */
export function banner(name: string, config: ExampleConfig): string {
  const lines = [`codeflow ${name} example: open ${config.baseUrl}/`]
  if (config.devProvider) {
    lines.push(
      `  identity provider: the embedded dev provider at ${config.devProvider.issuer}`,
      '  sign in with any username and any password, then allow the consent screen',
      `  sign in as "admin" to see ${config.baseUrl}/admin; ${config.baseUrl}/step-up asks for a recent sign-in`,
    )
  } else {
    lines.push(`  identity provider: ${String(config.auth.issuer)}`)
  }
  lines.push('  press Ctrl+C to stop')
  return lines.join('\n')
}
