// e2e/fixtures.ts: one real sign-in per Playwright worker, its cookies in every test of that worker
import { type StorageState, signIn } from '@codeflow/testing'
import { test as base, expect } from '@playwright/test'

const appUrl = process.env.APP_BASE_URL ?? 'http://localhost:3000'

export const test = base.extend<
  { user: string },
  { signedIn: { user: string; state: StorageState } }
>({
  signedIn: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from it
    async ({}, use, workerInfo) => {
      const user = `worker-${workerInfo.workerIndex}`
      const session = await signIn(appUrl, { user })
      await use({ user, state: session.storageState() })
    },
    { scope: 'worker' },
  ],
  storageState: ({ signedIn }, use) => use(signedIn.state),
  user: ({ signedIn }, use) => use(signedIn.user),
})

export { expect }
