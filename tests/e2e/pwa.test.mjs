// End-to-end: the release build as a PWA — installable, works offline after one visit, runs
// under its Content-Security-Policy, and offers a new deployment when there is one.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createRoom, post, saved, section, useServers, WAIT } from './harness.mjs'

let site
// A copy of the build, served from a sub-path as a static host would, so the test can deploy a
// "new version" into it.
const servers = useServers({
  before,
  after,
  prepare: async () => {
    site = await mkdtemp(path.join(os.tmpdir(), 'tequio-site-'))
    await cp('dist', path.join(site, 'tequio'), { recursive: true })
    return site
  },
})
const { device, withLogs } = servers
after(async () => { if (site) await rm(site, { recursive: true, force: true }) })

/** Waits until a service worker controls the page. */
async function controlled (page) {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: WAIT })
}

describe('the app as a PWA', () => {
  test('installable, strict CSP, offline after one visit, and told about a new version', () => withLogs(async () => {
    const d = await device('pwa').open()
    const url = servers.app.url + 'tequio/'
    const page = await d.page()
    await page.addInitScript(() => {
      window.__violations = []
      document.addEventListener('securitypolicyviolation', e => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`))
    })
    await page.goto(url)
    await createRoom(page, 'Offline pantry', 'Ana')
    await post(page, { title: 'Rice', category: 'Food' })
    await controlled(page)

    // The policy: no inline scripts, no eval; and nothing was refused while using the app.
    const policy = await page.locator('meta[http-equiv=Content-Security-Policy]').getAttribute('content')
    assert.match(policy, /script-src 'self' 'wasm-unsafe-eval'/)
    assert.doesNotMatch(policy, /'unsafe-inline'|'unsafe-eval'/)
    assert.deepEqual(await page.evaluate(() => window.__violations), [])

    // Chromium's own installability check.
    const cdp = await page.context().newCDPSession(page)
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors')
    assert.deepEqual(installabilityErrors, [])

    // Offline: the app and the room open from the service worker and IndexedDB.
    // Losing the network is shown at once, and so is getting it back.
    await d.context.setOffline(true)
    await page.getByTestId('offline').waitFor({ timeout: WAIT })
    await d.context.setOffline(false)
    await page.getByTestId('offline').waitFor({ state: 'detached', timeout: WAIT })
    await d.context.setOffline(true)
    await page.getByTestId('offline').waitFor({ timeout: WAIT })
    await page.goto(url)
    await page.getByTestId('room-link').filter({ hasText: 'Offline pantry' }).click()
    await section(page, 'board')
    await page.locator('[data-testid=post][data-title=Rice]').waitFor({ timeout: WAIT })
    await post(page, { title: 'Beans', category: 'Food' })
    await saved(page)
    await d.context.setOffline(false)

    // A new deployment: the page offers it, and reloading takes it.
    const swFile = path.join(site, 'tequio', 'sw.js')
    const sw = await readFile(swFile, 'utf8')
    await writeFile(swFile, sw.replace(/const VERSION = '([0-9a-f]+)'/, "const VERSION = '$1-next'"))
    await page.goto(url)
    const banner = page.getByTestId('update-banner')
    await banner.waitFor({ timeout: WAIT })
    await banner.getByRole('button').click()
    await page.waitForFunction(async () => {
      const keys = await caches.keys()
      return keys.some(k => k.endsWith('-next')) && keys.length === 1
    }, null, { timeout: WAIT })
    await page.getByTestId('room-link').filter({ hasText: 'Offline pantry' }).waitFor({ timeout: WAIT })
  }))
})
