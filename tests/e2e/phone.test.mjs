// A phone first: the sections most used one tap away in a bar at the bottom, the rest behind
// "More"; the notice that the browser did not promise to keep the data shown once, with a way
// to act on it, and in Settings from then on.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { WAIT, createRoom, section, useServers } from './harness.mjs'

const servers = useServers({ before, after })
const { device, withLogs } = servers

const PRIMARY = ['Home', 'Needs & offers', 'Shared things', 'Decisions']
const REST = ['Tasks', 'Pages', 'Members', 'Common pot', 'Contributions', 'Charter', 'Settings']

/** Makes `navigator.storage.persist()` answer what `window.__grant` says (false at first). */
async function persistAnswers (page) {
  await page.addInitScript(() => {
    window.__grant = false
    window.__asked = 0
    navigator.storage.persist = async () => { window.__asked += 1; return window.__grant }
  })
}

describe('a phone first', () => {
  test('a: at 360 px the most used sections are one tap away at the bottom, the rest behind More; at 1280 px all in a row', () => withLogs(async () => {
    const d = await device('ph').open()
    const page = await d.page()
    await page.setViewportSize({ width: 360, height: 740 })
    await page.goto(servers.app.url)
    await createRoom(page, 'Allotment')
    const nav = page.getByRole('navigation', { name: 'Room sections' })
    await nav.waitFor({ timeout: WAIT })
    // One row at the very bottom of the screen, whatever the page scrolls to.
    const box = await nav.boundingBox()
    assert.ok(Math.abs(box.y + box.height - 740) <= 1, `the bar ends at ${box.y + box.height}, not at the bottom`)
    assert.ok(box.height <= 80, `the bar is ${box.height}px high`)
    for (const name of PRIMARY) assert.ok(await nav.getByRole('link', { name, exact: true }).isVisible(), `${name} is one tap away`)
    const more = nav.getByRole('button', { name: 'More' })
    assert.equal(await more.getAttribute('aria-expanded'), 'false')
    for (const name of REST) assert.ok(!(await nav.getByRole('link', { name, exact: true }).isVisible()), `${name} waits behind More`)
    // More shows the rest; choosing one shows it, closes the menu and marks More.
    await more.click()
    assert.equal(await more.getAttribute('aria-expanded'), 'true')
    for (const name of REST) assert.ok(await nav.getByRole('link', { name, exact: true }).isVisible(), `${name} is in More`)
    await nav.getByRole('link', { name: 'Members', exact: true }).click()
    await page.getByTestId('standing').waitFor({ timeout: WAIT })
    assert.equal(await more.getAttribute('aria-expanded'), 'false')
    assert.match(await more.getAttribute('class'), /\bcurrent\b/)
    // The bar covers no content: the page's end scrolls above it.
    const main = await page.locator('main').boundingBox()
    const last = await page.locator('main > *').last().boundingBox()
    assert.ok(last.y + last.height <= main.y + main.height - box.height + 1, 'the last card ends above the bar')
    // The harness's way to a section works the same on a phone.
    await section(page, 'charter')
    await page.getByTestId('charter').waitFor({ timeout: WAIT })

    await page.setViewportSize({ width: 1280, height: 800 })
    assert.ok(!(await more.isVisible()), 'no More on a wide screen')
    for (const name of [...PRIMARY, ...REST]) assert.ok(await nav.getByRole('link', { name, exact: true }).isVisible(), `${name} in the row`)
    const row = await nav.boundingBox()
    assert.ok(row.y < 400, 'the row sits at the top on a wide screen')
  }))

  test('b: the browser did not promise to keep the data: said once with a way to act, then in Settings', () => withLogs(async () => {
    const d = await device('pn').open()
    const page = await d.page()
    await persistAnswers(page)
    await page.goto(servers.app.url)
    const notice = page.getByTestId('not-persisted')
    await notice.waitFor({ timeout: WAIT })
    assert.match(await notice.innerText(), /may clear it when space runs low/)
    // Asking again, now granted (as installing the app would do): the notice goes.
    await page.evaluate(() => { window.__grant = true })
    await notice.getByRole('button', { name: 'Ask the browser again' }).click()
    await notice.waitFor({ state: 'detached', timeout: WAIT })
    assert.ok(await page.evaluate(() => window.__asked) >= 2)

    // Not granted again on this visit: shown; dismissed, it stays dismissed on this device.
    await page.reload()
    await notice.waitFor({ timeout: WAIT })
    await notice.getByRole('button', { name: 'Got it' }).click()
    await notice.waitFor({ state: 'detached', timeout: WAIT })
    await page.reload()
    await createRoom(page, 'Allotment')
    assert.equal(await page.getByTestId('not-persisted').count(), 0)
    // Settings keeps saying it, with the same way to act.
    await section(page, 'settings')
    await page.getByTestId('persisted').filter({ hasText: 'has not promised to keep this data' }).waitFor({ timeout: WAIT })
    await page.evaluate(() => { window.__grant = true })
    await page.getByRole('button', { name: 'Ask the browser to keep it' }).click()
    await page.getByTestId('persisted').filter({ hasText: 'has promised to keep this data' }).waitFor({ timeout: WAIT })
  }))
})
