/**
 * GET /api/public: a JSON body without auth, about the size of /api/me's (`pnpm bench` compares
 * the two: the cost of the session read in a route handler).
 */
export function GET() {
  return Response.json(
    {
      sub: 'public',
      name: 'Public Example',
      email: 'public@example.com',
      email_verified: true,
      org: 'Example Organisation',
      roles: ['reader', 'writer', 'reviewer'],
      department: 'Research and Development',
      locale: 'en-GB',
      zoneinfo: 'Europe/London',
      picture: 'https://example.com/avatars/public-example-profile.png',
    },
    { headers: { 'Cache-Control': 'no-store' } },
  )
}
