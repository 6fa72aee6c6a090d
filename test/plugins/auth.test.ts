import { describe, expect, it } from 'vitest'
import { expectProblem, testApp } from '../helpers/app.js'

const TOKEN = 'correct-horse-battery-staple'

describe('bearer token', () => {
  it('is not required when no token is configured', async () => {
    const app = await testApp()
    expect((await app.inject({ url: '/v1/sessions' })).statusCode).toBe(200)
  })

  it.each([
    ['no header', undefined],
    ['a wrong token', `Bearer ${TOKEN}x`],
    ['a shorter token', 'Bearer correct'],
    ['another scheme', `Basic ${TOKEN}`],
    ['a bare token', TOKEN]
  ])('answers 401 problem+json to %s', async (_, authorization) => {
    const app = await testApp({ token: TOKEN })
    const res = await app.inject({ url: '/v1/sessions', headers: authorization === undefined ? {} : { authorization } })
    expectProblem(res, 401, 'UDPLAT_UNAUTHORIZED')
    expect(res.headers['www-authenticate']).toBe('Bearer realm="udplat"')
  })

  it('lets the right token through, whatever the scheme\'s case', async () => {
    const app = await testApp({ token: TOKEN })
    expect((await app.inject({ url: '/v1/sessions', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200)
    expect((await app.inject({ url: '/v1/sessions', headers: { authorization: `bearer ${TOKEN}` } })).statusCode).toBe(200)
  })

  it('checks before validation, so unauthenticated requests learn nothing', async () => {
    const app = await testApp({ token: TOKEN })
    const res = await app.inject({ method: 'POST', url: '/v1/sessions', payload: { bogus: true } })
    expect(res.statusCode).toBe(401)
  })

  it.each(['/healthz', '/openapi.json', '/docs/'])('leaves %s open', async (url) => {
    const app = await testApp({ token: TOKEN })
    expect((await app.inject({ url })).statusCode).toBe(200)
  })
})
