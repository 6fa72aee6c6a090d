import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'

describe('UDPLAT_UI_FRAME_ANCESTORS', () => {
  it('is unset by default: only the service itself frames the page', () => {
    expect(loadConfig([], {}).uiFrameAncestors).toBeUndefined()
  })

  it('takes origins, schemes and keywords from the environment or the flag, which wins', () => {
    expect(loadConfig([], { UDPLAT_UI_FRAME_ANCESTORS: "  'self'   https://portal.example.com  https://*.tools.example:8443 http://[::1]:3000 " }).uiFrameAncestors)
      .toBe("'self' https://portal.example.com https://*.tools.example:8443 http://[::1]:3000")
    expect(loadConfig(['--ui-frame-ancestors', 'https:'], { UDPLAT_UI_FRAME_ANCESTORS: "'none'" }).uiFrameAncestors).toBe('https:')
  })

  it.each([
    ['https://portal.example.com; script-src *', 'https://portal.example.com;'],
    ['*', '*'],
    ['portal.example.com', 'portal.example.com'],
    ["'unsafe-inline'", "'unsafe-inline'"],
    ['https://portal.example.com/path', 'https://portal.example.com/path']
  ])('refuses %s, which is not an origin', (value, bad) => {
    expect(() => loadConfig([], { UDPLAT_UI_FRAME_ANCESTORS: value }))
      .toThrow(`UDPLAT_UI_FRAME_ANCESTORS takes space-separated origins such as https://portal.example.com, or 'self', got "${bad}"`)
  })
})
