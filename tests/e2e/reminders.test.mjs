// End-to-end: reminders without a server. A member who turned reminders on is notified when an
// expense waits for their approval — once, not again after a reload, and not the member who
// asked — and the app badge counts what waits; a work party and a booking download as calendar
// files whose alarm the phone's calendar rings, on the right dates.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createRoom, joinAndBeVouched, recordInPot, saved, section, shareLink, useServers, waitFor, WAIT } from './harness.mjs'

const servers = useServers({ before, after })
const { device, withLogs } = servers

/**
 * Runs in every page before the app: records each notification the app shows and each badge
 * it sets (the browser's own are called too, where it has them).
 */
function spy () {
  window.__notes = []
  window.__badges = []
  const Real = window.Notification
  if (Real) {
    class Recorded extends Real {
      constructor (title, options = {}) {
        super(title, options)
        window.__notes.push({ title, body: options.body, tag: options.tag })
      }
    }
    Object.defineProperty(window, 'Notification', { value: Recorded, configurable: true, writable: true })
  }
  for (const [name, count] of [['setAppBadge', n => n], ['clearAppBadge', () => 0]]) {
    const real = navigator[name]?.bind(navigator)
    navigator[name] = (...args) => {
      window.__badges.push(count(...args))
      return real ? real(...args).catch(() => {}) : Promise.resolve()
    }
  }
}

/** A device that allows notifications, with the spy in its pages. */
async function notifiable (name) {
  const d = await device(name, { permissions: ['notifications'] }).open()
  await d.context.addInitScript(spy)
  return d
}

const notes = page => page.evaluate(() => window.__notes)
const badges = page => page.evaluate(() => window.__badges)

async function turnRemindersOn (page) {
  await section(page, 'settings')
  const state = page.getByTestId('reminders-state')
  await page.locator('[data-testid=reminders-state][data-state=off]').waitFor({ timeout: WAIT })
  await page.getByTestId('reminders-on').click()
  await page.locator('[data-testid=reminders-state][data-state=on]').waitFor({ timeout: WAIT })
  assert.equal(await state.innerText(), 'Reminders are on.')
}

async function download (page, button) {
  const [file] = await Promise.all([page.waitForEvent('download'), button.click()])
  return { name: file.suggestedFilename(), text: await readFile(await file.path(), 'utf8') }
}

/** The calendar file's lines, unfolded (RFC 5545: a line break and a space continue a line). */
function lines (ics) {
  assert.ok(!ics.replaceAll('\r\n', '').includes('\n'), 'every line ends in CRLF')
  return ics.replaceAll('\r\n ', '').split('\r\n')
}

describe('reminders', () => {
  test('an approval asked of a member is notified once; calendar files carry an alarm', () => withLogs(async () => {
    const a = await notifiable('ra')
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Garden club', 'Ana')
    const b = await notifiable('rb')
    const pb = await b.page()
    await joinAndBeVouched(pb, await shareLink(pa), 'Garden club', 'Bo', pa)
    await turnRemindersOn(pa)
    await turnRemindersOn(pb)

    // Ana asks for an expense: Bo's approval is needed, and Bo is told.
    await section(pa, 'pot')
    await pa.getByTestId('pot-name').fill('Common pot')
    await pa.getByTestId('open-pot-submit').click()
    await recordInPot(pa, 'Common pot', 'expense', '40', 'Seeds')
    await saved(pa)
    const asked = 'An expense is waiting for your approval'
    await waitFor('Bo to be notified', async () => (await notes(pb)).some(n => n.body === asked) || await notes(pb))
    const [note] = (await notes(pb)).filter(n => n.body === asked)
    assert.equal(note.title, 'Garden club')
    assert.equal((await notes(pb)).filter(n => n.body === asked).length, 1, 'notified once')
    await waitFor('the badge to count it', async () => (await badges(pb)).at(-1) === 1 || await badges(pb))
    // Ana asked: nothing of it is hers to be reminded of.
    assert.deepEqual((await notes(pa)).filter(n => /expense/i.test(n.body)), [])

    // A reload does not remind again: the badge shows the watcher ran, with no notification.
    await pb.reload()
    await waitFor('the badge after the reload', async () => (await badges(pb)).at(-1) === 1 || await badges(pb))
    assert.deepEqual(await notes(pb), [])

    // Approved, nothing waits: the badge is cleared.
    await section(pb, 'pot')
    await pb.locator('[data-testid=pot][data-name="Common pot"] [data-testid=line][data-memo=Seeds]').getByTestId('approve').click()
    await waitFor('the badge to clear', async () => (await badges(pb)).at(-1) === 0 || await badges(pb))

    // A work party as a calendar file: its date in UTC, an alarm the day before.
    await section(pa, 'tasks')
    await pa.getByTestId('party-title').fill('Clean the creek')
    await pa.getByTestId('party-place').fill('Old bridge; north side')
    await pa.getByTestId('party-date').fill('2031-05-17T18:30')
    await pa.getByTestId('plan').click()
    const party = pa.locator('[data-testid=party][data-title="Clean the creek"]')
    const file = await download(pa, party.getByTestId('add-to-calendar'))
    assert.equal(file.name, 'tequio-clean-the-creek.ics')
    const at = await pa.evaluate(() => new Date('2031-05-17T18:30').toISOString())
    const ics = lines(file.text)
    assert.ok(ics.includes(`DTSTART:${at.replace(/[-:]/g, '').replace('.000', '')}`), file.text)
    assert.ok(ics.includes('SUMMARY:Work party: Clean the creek'), file.text)
    assert.ok(ics.includes('LOCATION:Old bridge\\; north side'), file.text)
    const alarm = ics.slice(ics.indexOf('BEGIN:VALARM'), ics.indexOf('END:VALARM') + 1)
    assert.deepEqual(alarm.filter(l => /^(ACTION|TRIGGER):/.test(l)), ['ACTION:DISPLAY', 'TRIGGER:-P1D'])
    assert.match(ics.find(l => l.startsWith('UID:')), /^UID:party-.+@tequio$/)

    // A booking from a time to a time: both in UTC, with a reminder the day before.
    await section(pb, 'things')
    await pb.getByTestId('resource-name').fill('Ladder')
    await pb.getByTestId('add-resource-submit').click()
    const ladder = pb.locator('[data-testid=resource][data-name=Ladder]')
    await ladder.getByTestId('book-from').fill('2031-06-01T10:00')
    await ladder.getByTestId('book-to').fill('2031-06-02T12:30')
    await ladder.getByTestId('book').click()
    const booking = ladder.getByTestId('booking')
    const booked = lines((await download(pb, booking.getByTestId('add-to-calendar'))).text)
    const [from, to] = await pb.evaluate(() => ['2031-06-01T10:00', '2031-06-02T12:30']
      .map(t => new Date(t).toISOString().replace(/[-:]/g, '').replace('.000', '')))
    assert.ok(booked.includes(`DTSTART:${from}`), booked.join('\n'))
    assert.ok(booked.includes(`DTEND:${to}`), booked.join('\n'))
    assert.ok(booked.includes('BEGIN:VALARM') && booked.includes('TRIGGER:-P1D'), booked.join('\n'))
  }))
})
