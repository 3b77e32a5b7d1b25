// End-to-end: every screen at a phone width (360 px) and a desktop width (1280 px), saved as
// screenshots for review; and a corpus of hostile text shown through titles and names runs no
// script.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { createRoom, post, section, useServers, WAIT } from './harness.mjs'

const SHOTS = path.resolve(process.env.SCREENSHOTS_DIR ?? 'target/screenshots')
const servers = useServers({ before, after })
before(async () => { await mkdir(SHOTS, { recursive: true }) })

const HOSTILE = [
  '<script>window.__xss = 1</script>',
  '<img src=x onerror="window.__xss = 2">',
  '"><svg onload=window.__xss=3>',
  '<a href="javascript:window.__xss=4">click</a>',
]

describe('screens', () => {
  test('every section at 360 px and 1280 px; hostile text stays text', async () => {
    const d = await servers.device('screens').open()
    const page = await d.page(servers.app.url)
    await page.setViewportSize({ width: 360, height: 780 })
    await page.screenshot({ path: path.join(SHOTS, 'start-360.png'), fullPage: true })
    await createRoom(page, 'Tool library', HOSTILE[0])
    for (const [i, title] of HOSTILE.entries()) await post(page, { title: `${title} ${i}`, category: 'Goods' })
    // A page written with the same text, raw and as markdown links and images.
    await section(page, 'pages')
    await page.getByTestId('new-page').click()
    await page.getByTestId('page-title').fill(HOSTILE[1])
    await page.getByTestId('page-text').fill([
      '# House rules', ...HOSTILE, '[click](javascript:window.__xss=5)', '![x](javascript:window.__xss=6)',
      '<iframe src="javascript:window.__xss=7"></iframe>', '**<svg onload=window.__xss=8>**', '- item one', '- item two',
    ].join('\n\n'))
    await page.getByTestId('create').click()
    const rendered = page.getByTestId('page-rendered')
    await rendered.locator('h1').filter({ hasText: 'House rules' }).waitFor({ timeout: WAIT })
    assert.equal(await rendered.locator('script, img, svg, iframe, [onerror], [onload]').count(), 0)
    assert.equal(await rendered.locator('a[href^="javascript"], a[href^="JAVASCRIPT"]').count(), 0)
    await rendered.getByText('click', { exact: true }).click()
    await rendered.getByText(HOSTILE[0]).waitFor({ timeout: WAIT })
    await page.getByRole('button', { name: '← All pages' }).click()
    for (const width of [360, 1280]) {
      await page.setViewportSize({ width, height: width === 360 ? 780 : 900 })
      for (const name of ['home', 'board', 'things', 'tasks', 'pages', 'members', 'pot', 'contributions', 'decisions', 'charter', 'settings']) {
        await section(page, name)
        await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: true })
        // Every control has a name a screen reader can say.
        const unnamed = await page.evaluate(() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
          .filter(el => {
            const labels = el.labels ? [...el.labels].map(l => l.textContent).join('') : ''
            const labelledBy = (el.getAttribute('aria-labelledby') ?? '').split(' ').map(id => document.getElementById(id)?.textContent ?? '').join('')
            return !(labels + labelledBy + (el.getAttribute('aria-label') ?? '') + (el.tagName === 'BUTTON' ? el.textContent : '')).trim()
          })
          .map(el => el.outerHTML.slice(0, 120)))
        assert.deepEqual(unnamed, [], `${name} has controls without a label`)
        // Nothing wider than the screen (no sideways scrolling on a phone).
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
        assert.ok(overflow <= 0, `${name} at ${width}px is ${overflow}px too wide`)
      }
    }
    await section(page, 'board')
    for (const [i, title] of HOSTILE.entries()) {
      await page.locator('[data-testid=post] h3').filter({ hasText: `${title} ${i}` }).waitFor({ timeout: WAIT })
    }
    await section(page, 'members')
    await page.locator('[data-testid=member] strong').filter({ hasText: HOSTILE[0] }).waitFor({ timeout: WAIT })
    assert.equal(await page.evaluate(() => window.__xss), undefined)
    console.log(`screenshots: ${SHOTS}`)
  })
})
