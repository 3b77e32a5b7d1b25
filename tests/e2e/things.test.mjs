// End-to-end: who did what and when, and mistakes corrected, driven by the labels a member
// reads. Two members on separate Chromium processes, over WebRTC and the real signaling server:
// a booking with times (on date-time fields readable on a phone and a desktop), cancelled by
// its member; a hand-over and a return whose condition notes both show in the thing's loan
// history on the other device; a work-party sign-up withdrawn; a task given back and taken on
// by the other member; a post and its reply showing their authors and dates.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createRoom, joinAndBeVouched, post, postItem, saved, section, shareLink, useServers, WAIT } from './harness.mjs'

const servers = useServers({ before, after })
const { device, withLogs } = servers

/** Two members, Ana (who made the room) and Bo, in one room. */
async function twoMembers (names, room) {
  const [a, b] = await Promise.all(names.map(n => device(n).open()))
  const pa = await a.page(servers.app.url)
  await createRoom(pa, room, 'Ana')
  const pb = await b.page()
  await joinAndBeVouched(pb, await shareLink(pa), room, 'Bo', pa)
  return [pa, pb]
}

/** A date and time as the page writes it (`ui::form::when`): its language, medium date, short time. */
function written (page, local) {
  return page.evaluate(t => new Date(t).toLocaleString(navigator.language, { dateStyle: 'medium', timeStyle: 'short' }), local)
}

/** The activity feed on the home screen says `text`. */
async function feedSays (page, text) {
  await section(page, 'home')
  await page.getByTestId('activity').getByText(text).first().waitFor({ timeout: WAIT })
}

describe('who and when, and corrections', () => {
  test('a booking with times is shown with them, cancelled by its member, and the time is free again', () => withLogs(async () => {
    const [pa, pb] = await twoMembers(['ka', 'kb'], 'Tool library')
    await section(pa, 'things')
    await pa.getByLabel('Name', { exact: true }).fill('Ladder')
    await pa.getByRole('button', { name: 'Share it' }).click()
    const ladder = p => p.locator('[data-testid=resource][data-name=Ladder]')
    await ladder(pa).waitFor({ timeout: WAIT })

    // The date-time fields are wide enough to read what they hold, on a phone and a desktop
    // (they were 4rem wide: "mn📅").
    for (const width of [360, 1280]) {
      await pa.setViewportSize({ width, height: 800 })
      for (const label of ['Booked from (date and time)', 'Until (date and time)']) {
        const field = ladder(pa).getByLabel(label)
        assert.equal(await field.getAttribute('type'), 'datetime-local')
        const [w, em] = await field.evaluate(el => [el.getBoundingClientRect().width, parseFloat(getComputedStyle(el).fontSize)])
        assert.ok(w >= 15 * em, `${label} at ${width}px is ${w}px wide`)
      }
    }

    // Bo books it from 10:00 to 12:30; both members see those times.
    await section(pb, 'things')
    await ladder(pb).getByLabel('Booked from (date and time)').fill('2030-05-01T10:00')
    await ladder(pb).getByLabel('Until (date and time)').fill('2030-05-01T12:30')
    await ladder(pb).getByRole('button', { name: 'Book', exact: true }).click()
    for (const p of [pa, pb]) {
      const span = `${await written(p, '2030-05-01T10:00')} – ${await written(p, '2030-05-01T12:30')} · Bo`
      await ladder(p).getByTestId('booking').filter({ hasText: span }).waitFor({ timeout: WAIT })
    }
    // Ana's booking from 12:00 overlaps in hours and is refused; only Bo may cancel his.
    await ladder(pa).getByLabel('Booked from (date and time)').fill('2030-05-01T12:00')
    await ladder(pa).getByLabel('Until (date and time)').fill('2030-05-01T14:00')
    await ladder(pa).getByRole('button', { name: 'Book', exact: true }).click()
    await ladder(pa).getByText('already booked').waitFor({ timeout: WAIT })
    assert.equal(await ladder(pa).getByRole('button', { name: 'Cancel this booking' }).count(), 0)

    // Bo cancels it: gone on both devices, and Ana's booking of that time now goes through.
    await ladder(pb).getByRole('button', { name: 'Cancel this booking' }).click()
    for (const p of [pa, pb]) {
      await ladder(p).getByTestId('booking').first().waitFor({ state: 'detached', timeout: WAIT })
    }
    await ladder(pa).getByRole('button', { name: 'Book', exact: true }).click()
    const anas = `${await written(pb, '2030-05-01T12:00')} – ${await written(pb, '2030-05-01T14:00')} · Ana`
    await ladder(pb).getByTestId('booking').filter({ hasText: anas }).waitFor({ timeout: WAIT })
    assert.equal(await ladder(pb).getByTestId('booking').count(), 1)
    await feedSays(pa, 'cancelled a booking of Ladder')
    await saved(pa)
    await saved(pb)
  }))

  test('a hand-over and a return each keep their condition note in the loan history', () => withLogs(async () => {
    const [pa, pb] = await twoMembers(['la', 'lb'], 'Tool shed')
    await section(pa, 'things')
    await pa.getByLabel('Name', { exact: true }).fill('Drill')
    await pa.getByRole('button', { name: 'Share it' }).click()
    const drill = p => p.locator('[data-testid=resource][data-name=Drill]')
    await drill(pa).getByLabel('Lend to').selectOption({ label: 'Bo' })
    await drill(pa).getByLabel('Condition note').fill('One scratch on the case')
    await drill(pa).getByRole('button', { name: 'Hand over' }).click()

    await section(pb, 'things')
    await pb.locator('[data-testid=resource][data-name=Drill][data-holder=Bo]').waitFor({ timeout: WAIT })
    await drill(pb).getByLabel('Condition note').fill('Battery flat, bit worn')
    await drill(pb).getByRole('button', { name: 'Record its return' }).click()

    // On Ana's device and on Bo's: who, when, and both notes.
    for (const p of [pa, pb]) {
      const loan = drill(p).getByTestId('loan-history').getByTestId('loan')
      await loan.filter({ hasText: 'Returned, recorded by Bo' }).waitFor({ timeout: WAIT })
      const text = await loan.innerText()
      assert.match(text, /Lent to Bo by Ana, /)
      assert.match(text, /Condition at hand-over: “One scratch on the case”/)
      assert.match(text, /Condition at return: “Battery flat, bit worn”/)
    }
    await saved(pa)
    await saved(pb)
  }))

  test('a sign-up is withdrawn; a task is given back and taken on by another member', () => withLogs(async () => {
    const [pa, pb] = await twoMembers(['wa', 'wb'], 'Creek friends')
    await section(pa, 'tasks')
    await pa.getByLabel('What needs doing').fill('Fix the gate')
    await pa.getByLabel('How many people').fill('1')
    await pa.getByRole('button', { name: 'Add the task' }).click()
    const task = p => p.locator('[data-testid=task][data-title="Fix the gate"]')
    await pa.getByLabel('What we will do').fill('Clean the creek')
    await pa.getByLabel('Where', { exact: true }).fill('Old bridge')
    await pa.getByLabel('When', { exact: true }).fill('2030-05-04T09:30')
    await pa.getByLabel('Places').fill('2')
    await pa.getByRole('button', { name: 'Plan it' }).click()
    const party = p => p.locator('[data-testid=party][data-title="Clean the creek"]')
    await party(pa).waitFor({ timeout: WAIT })

    // Bo takes the task on; Ana can only wait. Bo gives it back; Ana takes it on.
    await section(pb, 'tasks')
    await task(pb).getByRole('button', { name: 'Take it on' }).click()
    await task(pa).getByRole('button', { name: 'Join the waiting list' }).waitFor({ timeout: WAIT })
    await task(pb).getByRole('button', { name: 'Give it back' }).click()
    await task(pa).getByRole('button', { name: 'Take it on' }).click()
    await task(pb).getByTestId('claimed-by').filter({ hasText: 'Taken by Ana' }).waitFor({ timeout: WAIT })
    await task(pb).getByRole('button', { name: 'Join the waiting list' }).waitFor({ timeout: WAIT })

    // Bo signs up for the work party, then withdraws: his place is free on Ana's device.
    await party(pb).getByRole('button', { name: 'Sign me up' }).click()
    await party(pa).getByTestId('signed-up').filter({ hasText: '1 of 2 places taken: Bo' }).waitFor({ timeout: WAIT })
    await party(pb).getByRole('button', { name: 'Withdraw my sign-up' }).click()
    await party(pa).getByTestId('signed-up').filter({ hasText: /^0 of 2 places taken$/ }).waitFor({ timeout: WAIT })
    await party(pb).getByRole('button', { name: 'Sign me up' }).waitFor({ timeout: WAIT })

    await feedSays(pa, 'gave back the task Fix the gate')
    await feedSays(pa, 'withdrew from the work party Clean the creek')
    await saved(pa)
    await saved(pb)
  }))

  test('a post shows its author and the date it was posted, and a reply its own', () => withLogs(async () => {
    const [pa, pb] = await twoMembers(['pa', 'pb'], 'Street')
    const today = p => p.evaluate(() => new Date().toLocaleDateString(navigator.language, { dateStyle: 'medium' }))
    const before = await today(pa)
    await post(pa, { title: 'Ladder for the roof' })
    const after = await today(pa)
    await section(pb, 'board')
    const byline = postItem(pb, 'Ladder for the roof').getByTestId('post-byline')
    await byline.filter({ hasText: 'by Ana · ' }).waitFor({ timeout: WAIT })
    const text = await byline.innerText()
    assert.ok([before, after].some(d => text.startsWith(`by Ana · ${d}, `)), text)

    await postItem(pb, 'Ladder for the roof').getByRole('button', { name: /Responses/ }).click()
    await postItem(pb, 'Ladder for the roof').getByLabel('Your reply').fill('Mine is 3 m')
    await postItem(pb, 'Ladder for the roof').getByRole('button', { name: 'Reply' }).click()
    await section(pa, 'board')
    await postItem(pa, 'Ladder for the roof').getByRole('button', { name: /Responses/ }).click()
    const reply = postItem(pa, 'Ladder for the roof').getByTestId('response').filter({ hasText: 'Mine is 3 m' })
    await reply.waitFor({ timeout: WAIT })
    const replyText = await reply.innerText()
    assert.ok(replyText.startsWith('Bo '), replyText)
    assert.ok([before, after].some(d => replyText.includes(d)), replyText)
    await saved(pa)
    await saved(pb)
  }))
})
