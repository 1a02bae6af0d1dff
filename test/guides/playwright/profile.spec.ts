// e2e/profile.spec.ts: pages of a signed-in user, without signing in in each test
import { expect, test } from './fixtures.js'

test('shows the signed-in user their profile', async ({ page, user }) => {
  await page.goto('/profile')
  await expect(page.locator('#sub')).toHaveText(user)
})

test('lets the signed-in user call the API', async ({ page, user }) => {
  const response = await page.request.get('/api/me')
  expect(response.status()).toBe(200)
  expect((await response.json()).sub).toBe(user)
})

test.describe('without a session', () => {
  test.use({ storageState: { cookies: [], origins: [] } })

  test('sends a visitor to sign in', async ({ page }) => {
    const response = await page.request.get('/api/me')
    expect(response.status()).toBe(401)
  })
})
