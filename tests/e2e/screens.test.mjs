// End-to-end: every screen at a phone width (360 px) and a desktop width (1280 px), saved as
// screenshots for review, each with named controls, no sideways scrolling, no input narrower than
// what it shows and no WCAG 2.1 A/AA violation axe-core finds; and a corpus of hostile text shown
// through titles and names runs no script.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { checkA11y, createRoom, follow, narrowInputs, post, section, shareLink, useServers, WAIT } from './harness.mjs'

const SHOTS = path.resolve(process.env.SCREENSHOTS_DIR ?? 'target/screenshots')
const servers = useServers({ before, after })
before(async () => { await mkdir(SHOTS, { recursive: true }) })

const SECTIONS = ['home', 'board', 'things', 'tasks', 'pages', 'members', 'pot', 'contributions', 'decisions', 'charter', 'settings']

const HOSTILE = [
  '<script>window.__xss = 1</script>',
  '<img src=x onerror="window.__xss = 2">',
  '"><svg onload=window.__xss=3>',
  '<a href="javascript:window.__xss=4">click</a>',
]

/**
 * What every screen must hold: axe-core finds no WCAG 2.1 A/AA violation, and no input, select or
 * text area is narrower than what it shows. Empty number fields first get a typical value (the
 * largest a number input allows, an amount of money, a count of days or hours), shown only: no
 * input event, nothing is written.
 */
async function checkScreen (page, where) {
  await page.evaluate(() => {
    for (const el of document.querySelectorAll('input[type=number], input[inputmode=numeric], input[inputmode=decimal]')) {
      if (el.value || !el.getClientRects().length) continue
      el.value = el.type === 'number' ? (el.max || '12345') : el.inputMode === 'decimal' ? '12345.50' : '120'
    }
  })
  await checkA11y(page, where)
  assert.deepEqual(await narrowInputs(page), [], `${where} has inputs narrower than what they show`)
}

describe('screens', () => {
  test('every screen at 360 px and 1280 px is named, fits and passes axe; hostile text stays text', async () => {
    const d = await servers.device('screens').open()
    const page = await d.page(servers.app.url)
    await page.setViewportSize({ width: 360, height: 780 })
    await page.screenshot({ path: path.join(SHOTS, 'start-360.png'), fullPage: true })
    await page.getByTestId('no-rooms').waitFor({ timeout: WAIT })
    await checkScreen(page, 'the start page at 360px')
    // A name as people have (it is chosen in selects such as "Lend to"); hostile names come later.
    await createRoom(page, 'Tool library', 'Ana María López')
    // Each section while it is still empty (an empty list is still a list).
    for (const name of SECTIONS) {
      await section(page, name)
      await checkScreen(page, `${name}, empty, at 360px`)
    }
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
    // Something in each section, so its items' own forms are on screen too.
    await section(page, 'things')
    await page.getByLabel('Name', { exact: true }).fill('Ladder')
    await page.getByRole('button', { name: 'Share it' }).click()
    await page.locator('[data-testid=resource][data-name=Ladder]').waitFor({ timeout: WAIT })
    await section(page, 'tasks')
    await page.getByTestId('task-title').fill('Fix the gate')
    await page.getByTestId('task-slots').fill('2')
    await page.getByTestId('add').click()
    await page.getByTestId('party-title').fill('Clean the creek')
    await page.getByTestId('party-place').fill('Old bridge')
    await page.getByTestId('party-date').fill('2030-05-04T09:30')
    await page.getByTestId('plan').click()
    await page.locator('[data-testid=party][data-title="Clean the creek"]').waitFor({ timeout: WAIT })
    await section(page, 'pot')
    await page.getByTestId('pot-name').fill('Common pot')
    await page.getByTestId('open-pot-submit').click()
    await page.locator('[data-testid=pot][data-name="Common pot"]').waitFor({ timeout: WAIT })
    await section(page, 'decisions')
    await page.getByTestId('decision-title').fill('Buy a second ladder')
    await page.getByTestId('decision-days').fill('3')
    await page.getByTestId('propose').click()
    await page.locator('[data-testid=decision][data-title="Buy a second ladder"]').waitFor({ timeout: WAIT })
    for (const width of [360, 1280]) {
      await page.setViewportSize({ width, height: width === 360 ? 780 : 900 })
      for (const name of SECTIONS) {
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
        await checkScreen(page, `${name} at ${width}px`)
      }
      // The share dialog, open over the room.
      await shareLink(page)
      await page.getByTestId('share-qr').waitFor({ timeout: WAIT })
      await page.screenshot({ path: path.join(SHOTS, `share-${width}.png`), fullPage: true })
      await checkScreen(page, `the share dialog at ${width}px`)
      await page.getByRole('button', { name: 'Share' }).click()
      await page.getByTestId('share-link').waitFor({ state: 'detached', timeout: WAIT })
    }
    // The start page with a room on it, and the question a join link asks on another device.
    const link = await shareLink(page)
    await page.getByRole('button', { name: 'Share' }).click()
    await page.goto(servers.app.url)
    await page.getByTestId('room-list').waitFor({ timeout: WAIT })
    await page.screenshot({ path: path.join(SHOTS, 'start-1280.png'), fullPage: true })
    await checkScreen(page, 'the start page with a room at 1280px')
    const other = await (await servers.device('screens-join').open()).page()
    await other.goto(link)
    for (const width of [360, 1280]) {
      await other.setViewportSize({ width, height: width === 360 ? 780 : 900 })
      await other.getByTestId('join-confirm').waitFor({ timeout: WAIT })
      await other.screenshot({ path: path.join(SHOTS, `join-${width}.png`), fullPage: true })
      await checkScreen(other, `the join question at ${width}px`)
    }
    await follow(page, link)
    await section(page, 'board')
    for (const [i, title] of HOSTILE.entries()) {
      await page.locator('[data-testid=post] h3').filter({ hasText: `${title} ${i}` }).waitFor({ timeout: WAIT })
    }
    await section(page, 'members')
    await page.getByText('Edit my profile').click()
    await page.getByTestId('profile-name').fill(HOSTILE[0])
    await page.getByTestId('profile-save').click()
    await page.locator('[data-testid=member] strong').filter({ hasText: HOSTILE[0] }).waitFor({ timeout: WAIT })
    assert.equal(await page.evaluate(() => window.__xss), undefined)
    console.log(`screenshots: ${SHOTS}`)
  })
})
