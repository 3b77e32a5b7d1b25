// End-to-end: running the commons through the UI with two members on separate Chromium
// processes, over WebRTC and the real signaling server.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  App, Device, Signaling, createRoom, freePort, peers, saved, section, shareLink, WAIT,
} from './harness.mjs'

let signaling, app
const devices = []
function device (name) { const d = new Device(name); devices.push(d); return d }

before(async () => {
  signaling = new Signaling(await freePort())
  await signaling.start()
  app = new App(await freePort(), [signaling.url])
  await app.start()
})

after(async () => {
  for (const d of devices) await d.dispose().catch(() => {})
  await app?.stop()
  await signaling?.stop()
})

async function withLogs (fn) {
  try { await fn() } catch (e) {
    for (const d of devices) console.error(d.logs.slice(-40).join('\n'))
    throw e
  }
}

const DAY = 24 * 60 * 60 * 1000

/** Sets what `Date.now()` says on every page (timers keep running), so decisions can close. */
async function clockAt (pages, ms) {
  for (const p of pages) await p.clock.setFixedTime(ms)
}

async function standing (page, tag) {
  await page.locator(`[data-testid=standing][data-standing=${tag}]`).waitFor({ timeout: WAIT })
}

function decision (page, title) {
  return page.locator(`[data-testid=decision][data-title="${title}"]`)
}

async function propose (page, { title, change, value, days = '1' }) {
  await section(page, 'decisions')
  await page.getByTestId('decision-title').fill(title)
  await page.getByTestId('decision-change').selectOption(change)
  await page.getByTestId('decision-value').fill(value)
  await page.getByTestId('decision-days').fill(days)
  await page.getByTestId('propose').click()
  await decision(page, title).waitFor({ timeout: WAIT })
  await saved(page)
}

async function stance (page, title, which, reason = '') {
  await section(page, 'decisions')
  const d = decision(page, title)
  await d.waitFor({ timeout: WAIT })
  if (reason) await d.getByLabel('Reason (optional)').fill(reason)
  await d.locator(`[data-testid=stance][data-stance="${which}"]`).click()
  await saved(page)
}

async function tallyShows (page, title, participants) {
  await decision(page, title).getByTestId('tally').filter({ hasText: `${participants} taking part` }).waitFor({ timeout: WAIT })
}

describe('the commons through the UI', () => {
  test('a newcomer joins and is vouched in; a blocked proposal changes nothing, a passed one changes the charter', () => withLogs(async () => {
    const a = await device('ca').open()
    const b = await device('cb').open()
    const pa = await a.page(app.url)
    const t0 = Date.now()
    await clockAt([pa], t0)
    await createRoom(pa, 'Seed library', 'Ana')
    const link = await shareLink(pa)
    const pb = await b.page()
    await clockAt([pb], t0)
    await pb.goto(link)
    await pb.getByTestId('room-name').filter({ hasText: 'Seed library' }).waitFor({ timeout: WAIT })
    await peers(pa, 1)

    // B introduces themselves and is pending; A sees them waiting and vouches.
    await section(pb, 'members')
    await standing(pb, 'stranger')
    await pb.getByTestId('profile-name').fill('Bo')
    await pb.getByTestId('profile-save').click()
    await standing(pb, 'pending')
    await section(pa, 'members')
    const bo = pa.locator('[data-testid=pending-member][data-name=Bo]')
    await bo.waitFor({ timeout: WAIT })
    await bo.getByTestId('vouch').click()
    await standing(pb, 'admitted')
    await pb.locator('[data-testid=member][data-name=Ana]').waitFor({ timeout: WAIT })

    // A consent proposal that Bo blocks changes nothing.
    await propose(pa, { title: 'Our purpose: seeds', change: 'purpose', value: 'Share seeds' })
    await stance(pa, 'Our purpose: seeds', 'Agree')
    await stance(pb, 'Our purpose: seeds', 'Block', 'Seeds and skills, not only seeds')
    await tallyShows(pa, 'Our purpose: seeds', 2)
    await clockAt([pa, pb], t0 + 2 * DAY)
    // The clock moved; any change re-derives the views. Re-open the section to see it closed.
    await section(pa, 'charter')
    await section(pa, 'decisions')
    await pa.locator('[data-testid=decision][data-title="Our purpose: seeds"][data-outcome=blocked]').waitFor({ timeout: WAIT })
    await decision(pa, 'Our purpose: seeds').getByTestId('outcome-text').fill('Blocked: Bo asks for skills too')
    await decision(pa, 'Our purpose: seeds').getByTestId('record-outcome').click()
    await decision(pa, 'Our purpose: seeds').getByTestId('statement').waitFor({ timeout: WAIT })
    await section(pa, 'charter')
    assert.equal(await pa.getByTestId('charter-purpose').innerText(), '(not written yet)')

    // Amended and proposed again: both agree, it passes, and recording the outcome enacts it.
    await propose(pa, { title: 'Our purpose: seeds and skills', change: 'purpose', value: 'Share seeds and skills' })
    await stance(pa, 'Our purpose: seeds and skills', 'Agree')
    await stance(pb, 'Our purpose: seeds and skills', 'Agree')
    await tallyShows(pa, 'Our purpose: seeds and skills', 2)
    await clockAt([pa, pb], t0 + 4 * DAY)
    await section(pb, 'charter')
    await section(pb, 'decisions')
    const passed = pb.locator('[data-testid=decision][data-title="Our purpose: seeds and skills"][data-outcome=passed]')
    await passed.waitFor({ timeout: WAIT })
    await passed.getByTestId('outcome-text').fill('Agreed by all')
    await passed.getByTestId('record-outcome').click()
    await saved(pb)
    for (const p of [pa, pb]) {
      await section(p, 'charter')
      await p.getByTestId('charter-purpose').filter({ hasText: 'Share seeds and skills' }).waitFor({ timeout: WAIT })
      assert.match(await p.locator('ol.history').innerText(), /purpose = Share seeds and skills/)
    }
  }))
})
