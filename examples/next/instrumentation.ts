/** Next.js calls `register` once per server instance, before it serves requests. */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return
  const { startExample } = await import('./lib/start')
  await startExample()
}
