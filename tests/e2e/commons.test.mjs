// End-to-end: running the commons through the UI with two members on separate Chromium
// processes, over WebRTC and the real signaling server.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  boardIs, createRoom, decodeQr, follow, joinAndBeVouched, recordInPot, peers, post, postItem, saved, section, shareLink,
  standing, titles, useServers, waitFor, WAIT,
} from './harness.mjs'

const servers = useServers({ before, after })
const { device, withLogs } = servers

const DAY = 24 * 60 * 60 * 1000

/** Sets what `Date.now()` says on every page (timers keep running), so decisions can close. */
async function clockAt (pages, ms) {
  for (const p of pages) await p.clock.setFixedTime(ms)
}

function decision (page, title) {
  return page.locator(`[data-testid=decision][data-title="${title}"]`)
}

/** Proposes a change: `value` for the charter, or the `member` (by name) to remove. */
async function propose (page, { title, change, value, member, days = '2' }) {
  await section(page, 'decisions')
  await page.getByTestId('decision-title').fill(title)
  await page.getByTestId('decision-change').selectOption(change)
  if (member) {
    const who = page.getByTestId('decision-member')
    // By name: the option reads "Name (key fingerprint)", and a fingerprint may hold a name's letters.
    await who.selectOption(await who.locator('option', { hasText: new RegExp(`^${member} \\(`) }).getAttribute('value'))
  } else {
    await page.getByTestId('decision-value').fill(value)
  }
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

async function record (page, kind, amount, memo) {
  await recordInPot(page, 'Common pot', kind, amount, memo)
  await saved(page)
}

/** Once the clock has moved past its close: records the outcome of a decision that passed. */
async function recordPassed (page, title, statement) {
  // The clock moved; any change re-derives the views. Re-open the section to see it closed.
  await section(page, 'charter')
  await section(page, 'decisions')
  const passed = page.locator(`[data-testid=decision][data-title="${title}"][data-outcome=passed]`)
  await passed.waitFor({ timeout: WAIT })
  await passed.getByTestId('outcome-text').fill(statement)
  await passed.getByTestId('record-outcome').click()
}

async function tallyShows (page, title, participants) {
  await decision(page, title).getByTestId('tally').filter({ hasText: `${participants} taking part` }).waitFor({ timeout: WAIT })
}

describe('the commons through the UI', () => {
  test('a newcomer joins and is vouched in; a blocked proposal changes nothing, a passed one changes the charter', () => withLogs(async () => {
    const a = await device('ca').open()
    const b = await device('cb').open()
    const pa = await a.page(servers.app.url)
    const t0 = Date.now()
    await clockAt([pa], t0)
    await createRoom(pa, 'Seed library', 'Ana')
    const link = await shareLink(pa)
    const pb = await b.page()
    await clockAt([pb], t0)
    await follow(pb, link)
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
    await clockAt([pa, pb], t0 + 3 * DAY)
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
    await clockAt([pa, pb], t0 + 6 * DAY)
    await recordPassed(pb, 'Our purpose: seeds and skills', 'Agreed by all')
    await saved(pb)
    for (const p of [pa, pb]) {
      await section(p, 'charter')
      await p.getByTestId('charter-purpose').filter({ hasText: 'Share seeds and skills' }).waitFor({ timeout: WAIT })
      assert.match(await p.locator('ol.history').innerText(), /Purpose → Share seeds and skills/)
    }
  }))

  test('an expense is requested, approved by two others and paid', () => withLogs(async () => {
    const [a, b, c] = await Promise.all(['pa', 'pb', 'pc'].map(n => device(n).open()))
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Garden club', 'Ana')
    const link = await shareLink(pa)
    const pages = [pa]
    for (const [d, name] of [[b, 'Bo'], [c, 'Cy']]) {
      const p = await d.page()
      await joinAndBeVouched(p, link, 'Garden club', name, pa)
      pages.push(p)
    }
    const [, pb, pc] = pages

    await section(pa, 'pot')
    await pa.getByTestId('pot-name').fill('Common pot')
    await pa.getByTestId('open-pot-submit').click()
    const potOf = p => p.locator('[data-testid=pot][data-name="Common pot"]')
    await potOf(pa).waitFor({ timeout: WAIT })
    // Money in counts once another member confirms it; Ana cannot confirm her own.
    await record(pa, 'inflow', '100', 'Dues')
    const dues = p => potOf(p).locator('[data-testid=line][data-memo=Dues]')
    await potOf(pa).locator('[data-testid=line][data-memo=Dues][data-state=awaitingconfirmation]').waitFor({ timeout: WAIT })
    assert.equal(await dues(pa).getByTestId('confirm').count(), 0, 'no confirming your own money in')
    await potOf(pa).getByTestId('balance').filter({ hasText: '0.00 EUR' }).waitFor({ timeout: WAIT })
    await section(pb, 'pot')
    await dues(pb).getByTestId('confirm').click()
    for (const p of [pa, pb]) {
      await potOf(p).getByTestId('balance').filter({ hasText: '100.00 EUR' }).waitFor({ timeout: WAIT })
    }

    // Cy asks for an expense; a bad amount is refused next to the field and writes nothing.
    await section(pc, 'pot')
    await potOf(pc).waitFor({ timeout: WAIT })
    await potOf(pc).getByTestId('record-amount').fill('12.345')
    await potOf(pc).getByTestId('record').click()
    await potOf(pc).getByText('at most two decimals').waitFor({ timeout: WAIT })
    await record(pc, 'expense', '40', 'Seeds')
    const line = p => potOf(p).locator('[data-testid=line][data-memo=Seeds]')
    await line(pc).getByTestId('line-state').filter({ hasText: '0 of 2' }).waitFor({ timeout: WAIT })
    assert.equal(await line(pc).getByTestId('approve').count(), 0, 'no approving your own request')

    await section(pa, 'pot')
    await line(pa).getByTestId('approve').click()
    await line(pa).getByTestId('line-state').filter({ hasText: '1 of 2' }).waitFor({ timeout: WAIT })
    assert.equal(await line(pa).getByTestId('approve').count(), 0, 'no approving twice')
    await section(pb, 'pot')
    await line(pb).getByTestId('line-state').filter({ hasText: '1 of 2' }).waitFor({ timeout: WAIT })
    await line(pb).getByTestId('approve').click()
    await line(pb).getByTestId('pay').click()
    for (const p of [pa, pb, pc]) {
      await potOf(p).getByTestId('balance').filter({ hasText: '60.00 EUR' }).waitFor({ timeout: WAIT })
      await line(p).getByTestId('line-state').filter({ hasText: 'counted' }).waitFor({ timeout: WAIT })
    }

    // A slip of the keyboard: an amount far beyond what the pot has seen is asked about first
    // and nothing is written until the person says yes.
    await potOf(pb).getByLabel('Money in (another member confirms it)').check()
    await potOf(pb).getByLabel('Amount (EUR)').fill('1000000000')
    await potOf(pb).getByLabel('What for').fill('Raffle')
    await potOf(pb).getByRole('button', { name: 'Record', exact: true }).click()
    await potOf(pb).getByRole('alert').filter({ hasText: 'far more than this pot has seen' }).waitFor({ timeout: WAIT })
    assert.equal(await potOf(pb).locator('[data-testid=line][data-memo=Raffle]').count(), 0)
    await potOf(pb).getByRole('button', { name: 'No, change it' }).click()
    await potOf(pb).getByLabel('Amount (EUR)').fill('10')
    await potOf(pb).getByRole('button', { name: 'Record', exact: true }).click()
    const raffle = p => potOf(p).locator('[data-testid=line][data-memo=Raffle]')
    await raffle(pb).waitFor({ timeout: WAIT })
    await section(pc, 'pot')
    await raffle(pc).getByRole('button', { name: 'Confirm' }).click()
    await potOf(pb).getByTestId('balance').filter({ hasText: '70.00 EUR' }).waitFor({ timeout: WAIT })

    // The seeds were returned: Ana corrects the expense with a reason; Bo confirms the
    // correction, and everyone's ledger shows the entry reversed and why.
    await line(pa).getByRole('button', { name: 'Correct' }).click()
    await line(pa).getByLabel('Why is it wrong?').fill('Seeds returned to the shop')
    await line(pa).getByRole('button', { name: 'Record the correction' }).click()
    const correction = p => potOf(p).getByTestId('line').filter({ hasText: 'Seeds returned to the shop' })
    await correction(pa).filter({ hasText: 'of “Seeds”' }).waitFor({ timeout: WAIT })
    await saved(pa)
    await correction(pb).getByRole('button', { name: 'Confirm' }).click()
    for (const p of [pa, pb, pc]) {
      await potOf(p).getByTestId('balance').filter({ hasText: '110.00 EUR' }).waitFor({ timeout: WAIT })
      await line(p).getByTestId('line-state').filter({ hasText: 'reversed' }).waitFor({ timeout: WAIT })
    }
  }))

  test('a dividend is decided and paid: each member\'s share is a line in every ledger, the remainder stays', () => withLogs(async () => {
    const [a, b, c] = await Promise.all(['da', 'db', 'dc'].map(n => device(n).open()))
    const pa = await a.page(servers.app.url)
    const t0 = Date.now()
    await clockAt([pa], t0)
    await createRoom(pa, 'Food coop', 'Ana')
    const link = await shareLink(pa)
    const pages = [pa]
    for (const [d, name] of [[b, 'Bo'], [c, 'Cy']]) {
      const p = await d.page()
      await clockAt([p], t0)
      await joinAndBeVouched(p, link, 'Food coop', name, pa)
      pages.push(p)
    }
    const [, pb, pc] = pages

    await section(pa, 'pot')
    await pa.getByTestId('pot-name').fill('Common pot')
    await pa.getByTestId('open-pot-submit').click()
    const potOf = p => p.locator('[data-testid=pot][data-name="Common pot"]')
    await record(pa, 'inflow', '100', 'Surplus')
    await section(pb, 'pot')
    await potOf(pb).locator('[data-testid=line][data-memo=Surplus]').getByRole('button', { name: 'Confirm' }).click()
    await potOf(pa).getByTestId('balance').filter({ hasText: '100.00 EUR' }).waitFor({ timeout: WAIT })

    // Ana proposes to share it equally; everyone sees what each would get before agreeing.
    const title = 'Share the surplus'
    await section(pa, 'decisions')
    await pa.getByLabel('What should we decide?').fill(title)
    await pa.getByLabel('If it passes, it enacts').selectOption('dividend')
    const from = pa.getByLabel('From the pot')
    await from.selectOption(await from.locator('option', { hasText: 'Common pot' }).getAttribute('value'))
    await pa.getByLabel('Amount to share').fill('100')
    await pa.getByLabel('Split').selectOption('equal')
    await pa.getByTestId('dividend-preview').filter({ hasText: 'Ana 33.33 EUR' }).waitFor({ timeout: WAIT })
    const preview = await pa.getByTestId('dividend-preview').innerText()
    for (const name of ['Bo', 'Cy']) assert.match(preview, new RegExp(`${name} 33\\.33 EUR`))
    assert.match(preview, /; 0\.01 EUR stays in the pot$/)
    await pa.getByRole('button', { name: 'Propose' }).click()
    await decision(pa, title).waitFor({ timeout: WAIT })
    await saved(pa)
    await section(pc, 'decisions')
    await decision(pc, title).getByTestId('enacts').filter({ hasText: 'Pays 100.00 EUR from Common pot to every member, equally' }).waitFor({ timeout: WAIT })
    await stance(pa, title, 'Agree')
    await stance(pb, title, 'Agree', 'Good year')
    await tallyShows(pa, title, 2)

    // Three days later it has closed and passed; recording its outcome pays it.
    await clockAt([pa, pb, pc], t0 + 3 * DAY)
    await recordPassed(pa, title, 'Paid out equally')
    await saved(pa)
    for (const p of [pa, pb, pc]) {
      await section(p, 'pot')
      await potOf(p).getByTestId('balance').filter({ hasText: '0.01 EUR' }).waitFor({ timeout: WAIT })
      for (const name of ['Ana', 'Bo', 'Cy']) {
        const share = potOf(p).getByTestId('line').filter({ hasText: `dividend 33.33 EUR` }).filter({ hasText: name })
        await share.getByTestId('line-state').filter({ hasText: 'counted' }).waitFor({ timeout: WAIT })
      }
    }
  }))

  test('a tool is shared, booked, handed over and returned', () => withLogs(async () => {
    const [a, b] = await Promise.all(['ra', 'rb'].map(n => device(n).open()))
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Tool library', 'Ana')
    const pb = await b.page()
    // The room's QR code carries exactly the share link.
    const link = await shareLink(pa)
    assert.equal(await decodeQr(pa.getByTestId('share-qr')), link)
    await joinAndBeVouched(pb, link, 'Tool library', 'Bo', pa)

    await section(pa, 'things')
    await pa.getByTestId('resource-name').fill('Saw')
    await pa.getByTestId('add-resource-submit').click()
    await pa.getByTestId('resource-name').fill('Ladder')
    await pa.getByTestId('add-resource-submit').click()
    const ladder = p => p.locator('[data-testid=resource][data-name=Ladder]')
    await ladder(pa).waitFor({ timeout: WAIT })

    // The label on the ladder: scanning its QR code opens the ladder in the room.
    await ladder(pa).getByTestId('show-qr').click()
    const ladderLink = await decodeQr(ladder(pa).getByTestId('resource-qr'))
    assert.match(ladderLink, /#\/room\/[^/]+\/things\/[^/]+$/)
    await pb.goto(ladderLink)
    await pb.locator('[data-testid=resource][data-name=Ladder][data-focused=true]').waitFor({ timeout: WAIT })
    assert.equal(await pb.locator('[data-testid=resource][data-focused=true]').count(), 1)

    // Bo books it for two days; Ana's overlapping booking is refused and shows why.
    await section(pb, 'things')
    await ladder(pb).getByTestId('book-from').fill('2030-05-01T09:00')
    await ladder(pb).getByTestId('book-to').fill('2030-05-02T18:00')
    await ladder(pb).getByTestId('book').click()
    await ladder(pa).getByTestId('booking').waitFor({ timeout: WAIT })
    await ladder(pa).getByTestId('book-from').fill('2030-05-02T10:00')
    await ladder(pa).getByTestId('book-to').fill('2030-05-03T10:00')
    await ladder(pa).getByTestId('book').click()
    await ladder(pa).getByText('already booked').waitFor({ timeout: WAIT })
    assert.equal(await ladder(pa).getByTestId('booking').count(), 1)

    // Handed over to Bo with a note, then returned.
    await ladder(pa).getByTestId('lend-to').selectOption({ label: 'Bo' })
    await ladder(pa).getByTestId('custody-note').fill('Good, one scratch on the left rail')
    await ladder(pa).getByTestId('hand-over').click()
    await pb.locator('[data-testid=resource][data-name=Ladder][data-holder=Bo]').waitFor({ timeout: WAIT })
    await ladder(pb).getByTestId('custody-note').fill('Back in the shed, clean')
    await ladder(pb).getByTestId('return').click()
    for (const p of [pa, pb]) {
      await ladder(p).getByTestId('holder').filter({ hasText: 'Available' }).waitFor({ timeout: WAIT })
    }

    // Bo books it from tomorrow; a week's hand-over to anyone else falls in his booking: the
    // steward is asked first, and nothing moves until she says so.
    const day = n => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10)
    await ladder(pb).getByTestId('book-from').fill(`${day(1)}T09:00`)
    await ladder(pb).getByTestId('book-to').fill(`${day(3)}T18:00`)
    await ladder(pb).getByTestId('book').click()
    await ladder(pa).getByTestId('booking').nth(1).waitFor({ timeout: WAIT })
    await ladder(pa).getByTestId('lend-to').selectOption({ label: 'Ana' })
    await ladder(pa).getByTestId('hand-over').click()
    const prompt = ladder(pa).getByTestId('booking-conflict')
    await prompt.filter({ hasText: 'Bo' }).waitFor({ timeout: WAIT })
    await prompt.getByRole('button', { name: 'Cancel' }).click()
    await prompt.waitFor({ state: 'detached', timeout: WAIT })
    assert.equal(await ladder(pa).getByTestId('holder').filter({ hasText: 'Available' }).count(), 1)
    await ladder(pa).getByTestId('hand-over').click()
    await prompt.getByTestId('hand-over-anyway').click()
    await pb.locator('[data-testid=resource][data-name=Ladder][data-holder=Ana]').waitFor({ timeout: WAIT })
    await saved(pa)
    await saved(pb)
  }))

  test('a contribution is logged, validated and countersigned', () => withLogs(async () => {
    const [a, b] = await Promise.all(['ka', 'kb'].map(n => device(n).open()))
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Fence builders', 'Ana')
    const pb = await b.page()
    await joinAndBeVouched(pb, await shareLink(pa), 'Fence builders', 'Bo', pa)

    await section(pb, 'contributions')
    await pb.getByTestId('contribution-quantity').fill('1:75')
    await pb.getByTestId('log').click()
    await pb.getByText('not a time like 1:30').waitFor({ timeout: WAIT })
    await pb.getByTestId('contribution-quantity').fill('1:30')
    await pb.getByTestId('contribution-description').fill('Fixed the fence')
    await pb.getByTestId('contribution-beneficiary').selectOption({ label: 'Ana' })
    await pb.getByTestId('log').click()
    const item = p => p.locator('[data-testid=contribution][data-description="Fixed the fence"]')
    await item(pb).waitFor({ timeout: WAIT })
    assert.equal(await item(pb).getByTestId('validate').count(), 0, 'no validating your own work')
    // Value that is not time is counted in whole units.
    // For the room, not for Ana: any other member may validate it.
    await pb.getByTestId('contribution-beneficiary').selectOption('')
    await pb.getByTestId('contribution-type').selectOption('materials')
    await pb.getByLabel('How much materials (a whole number)').fill('1.5')
    await pb.getByTestId('contribution-description').fill('Fence posts')
    await pb.getByTestId('log').click()
    await pb.getByText('not a whole number of materials above zero').waitFor({ timeout: WAIT })
    await pb.getByTestId('contribution-quantity').fill('3')
    await pb.getByTestId('log').click()
    const posts = p => p.locator('[data-testid=contribution][data-description="Fence posts"]')
    await posts(pb).filter({ hasText: '3 materials' }).waitFor({ timeout: WAIT })

    // Ana is the beneficiary: she confirms the work for her, and does not validate it too.
    await section(pa, 'contributions')
    assert.equal(await item(pa).getByTestId('validate').count(), 0, 'the beneficiary confirms instead of validating')
    await item(pa).getByTestId('countersign').click()
    await posts(pa).getByTestId('validate').click()
    for (const p of [pa, pb]) {
      await p.locator('[data-testid=contribution][data-description="Fixed the fence"][data-confirmed=true]').waitFor({ timeout: WAIT })
      await p.locator('[data-testid=total][data-name=Bo]').filter({ hasText: '1:30 h' }).filter({ hasText: '3 materials' }).waitFor({ timeout: WAIT })
    }
  }))

  test('a need meets an offer: suggested as a match, found by the filters', () => withLogs(async () => {
    const a = await device('na').open()
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Street share', 'Ana')
    await post(pa, { kind: 'need', title: 'Need a ladder', category: 'Goods' })
    await post(pa, { kind: 'offer', title: 'Ladder to lend', category: 'Goods' })
    await post(pa, { kind: 'offer', title: 'Soup on Fridays', category: 'Food' })
    await pa.getByTestId('suggest').click()
    const match = pa.locator('[data-testid=match][data-need="Need a ladder"][data-offer="Ladder to lend"]')
    await match.waitFor({ timeout: WAIT })
    assert.equal(await pa.getByTestId('match').count(), 1, 'only the pair sharing a category')
    // A suggestion can be acted on: its posts are links, and its author asks about the offer.
    await match.getByRole('button', { name: 'Ask about this offer' }).click()
    await match.getByRole('status').filter({ hasText: 'Replied' }).waitFor({ timeout: WAIT })
    const asked = postItem(pa, 'Ladder to lend')
    await asked.getByTestId('responses-toggle').filter({ hasText: 'Responses (1)' }).waitFor({ timeout: WAIT })
    await match.getByRole('link', { name: '“Ladder to lend”' }).click()
    await pa.locator('[data-testid=post][data-title="Ladder to lend"][data-focused=true]').waitFor({ timeout: WAIT })
    await pa.getByTestId('filter-kind').selectOption('offer')
    await pa.getByTestId('filtered-count').filter({ hasText: '2 shown' }).waitFor({ timeout: WAIT })
    await pa.getByTestId('filter-text').fill('soup')
    await pa.getByTestId('filtered-count').filter({ hasText: '1 shown' }).waitFor({ timeout: WAIT })
    assert.deepEqual(await pa.locator('[data-testid=post]').evaluateAll(els => els.map(e => e.dataset.title)), ['Soup on Fridays'])
    // The total stays the whole board.
    assert.equal(await pa.getByTestId('post-count').innerText(), '3')

    // Tags, urgency and an end date on the need; a tag finds it; past its date it shows expired.
    await pa.getByTestId('filter-kind').selectOption('')
    await pa.getByTestId('filter-text').fill('')
    const need = postItem(pa, 'Need a ladder')
    await need.getByTestId('edit-post').click()
    await need.getByTestId('edit-tags').fill('Tall, outdoor,')
    await need.getByTestId('edit-urgency').selectOption('high')
    await need.getByTestId('edit-expires').fill('2020-01-31')
    await need.getByTestId('save-post').click()
    await need.getByTestId('tags').filter({ hasText: '#tall #outdoor' }).waitFor({ timeout: WAIT })
    await need.getByTestId('urgent').waitFor({ timeout: WAIT })
    assert.equal(await need.getByTestId('expiry').innerText(), 'expired')
    assert.equal(await need.getAttribute('data-expired'), 'true')
    await pa.getByTestId('filter-text').fill('outdoor')
    await pa.getByTestId('filtered-count').filter({ hasText: '1 shown' }).waitFor({ timeout: WAIT })
    await pa.getByTestId('filter-text').fill('')
    await pa.getByTestId('filter-category').selectOption('Food')
    await pa.getByTestId('filtered-count').filter({ hasText: '1 shown' }).waitFor({ timeout: WAIT })
    assert.deepEqual(await pa.locator('[data-testid=post]').evaluateAll(els => els.map(e => e.dataset.title)), ['Soup on Fridays'])
    await pa.getByTestId('filter-category').selectOption('')

    // A reply to the offer.
    const offer = postItem(pa, 'Ladder to lend')
    await offer.getByTestId('responses-toggle').click()
    await offer.getByTestId('send-response').click()
    await offer.getByText('must be 1 to 1000 characters').waitFor({ timeout: WAIT })
    await offer.getByTestId('response-text').fill('Is it still free on Saturday?')
    await offer.getByTestId('send-response').click()
    await offer.getByTestId('response').filter({ hasText: 'Is it still free on Saturday?' }).waitFor({ timeout: WAIT })
    await offer.getByTestId('responses-toggle').filter({ hasText: 'Responses (2)' }).waitFor({ timeout: WAIT })
    await offer.getByTestId('response').filter({ hasText: 'This could meet my need “Need a ladder”' }).waitFor({ timeout: WAIT })
  }))

  test('a page is edited on two devices at once and both edits survive', () => withLogs(async () => {
    const [a, b] = await Promise.all(['ga', 'gb'].map(n => device(n).open()))
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Allotment', 'Ana')
    const pb = await b.page()
    await joinAndBeVouched(pb, await shareLink(pa), 'Allotment', 'Bo', pa)

    await section(pa, 'pages')
    await pa.getByTestId('new-page').click()
    await pa.getByTestId('page-title').fill('Watering rota')
    await pa.getByTestId('page-text').fill('# Rota\n\n- Monday: Ana\n- Tuesday: Bo')
    // The preview follows the typing.
    await pa.getByTestId('page-preview').locator('li').filter({ hasText: 'Tuesday: Bo' }).waitFor({ timeout: WAIT })
    await pa.getByTestId('create').click()
    await pa.getByTestId('page-rendered').locator('h1').filter({ hasText: 'Rota' }).waitFor({ timeout: WAIT })
    await saved(pa)

    await section(pb, 'pages')
    await pb.locator('[data-testid=page-item][data-title="Watering rota"] button').click()
    // Both open the editor on the same version.
    await pa.getByTestId('edit-page').click()
    await pb.getByTestId('edit-page').click()
    await pa.getByTestId('page-text').fill('# Rota\n\n- Monday: Ana and Dee\n- Tuesday: Bo')
    await pb.getByTestId('page-text').fill('# Rota\n\n- Monday: Ana\n- Tuesday: Bo\n- Wednesday: Cy')
    await pa.getByTestId('save-page').click()
    await saved(pa)
    // Ana's edit reaches Bo while he is still writing; he is told, and saving keeps both.
    await pb.getByTestId('changed-meanwhile').waitFor({ timeout: WAIT })
    await pb.getByTestId('save-page').click()
    for (const p of [pa, pb]) {
      const items = p.getByTestId('page-rendered').locator('li')
      await items.filter({ hasText: 'Wednesday: Cy' }).waitFor({ timeout: WAIT })
      assert.deepEqual(await items.allInnerTexts(), ['Monday: Ana and Dee', 'Tuesday: Bo', 'Wednesday: Cy'])
      await p.getByTestId('page-history').filter({ hasText: 'edited 2 times' }).waitFor({ timeout: WAIT })
    }
    // A page has a link of its own: Ana passes it on, and Bo's browser opens the page with it.
    await pa.getByText('Link to this page').click()
    const pageLink = await pa.getByLabel('Members of this room open the page with it:').inputValue()
    assert.match(pageLink, /#\/room\/[^/]+\/pages\/[^/]+$/)
    await section(pb, 'home')
    await pb.goto(pageLink)
    await pb.locator('[data-testid=page][data-title="Watering rota"]').getByTestId('page-rendered').locator('li').filter({ hasText: 'Wednesday: Cy' }).waitFor({ timeout: WAIT })
  }))

  test('a task is taken on and done, its time logged; members sign up to a work party', () => withLogs(async () => {
    const [a, b] = await Promise.all(['ta', 'tb'].map(n => device(n).open()))
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Creek friends', 'Ana')
    const pb = await b.page()
    await joinAndBeVouched(pb, await shareLink(pa), 'Creek friends', 'Bo', pa)

    await section(pa, 'tasks')
    await pa.getByTestId('task-slots').fill('0')
    await pa.getByTestId('task-title').fill('Fix the gate')
    await pa.getByTestId('add').click()
    await pa.getByText('The slots must be from 1 to 100.').waitFor({ timeout: WAIT })
    await pa.getByTestId('task-slots').fill('1')
    await pa.getByTestId('add').click()
    const task = p => p.locator('[data-testid=task][data-title="Fix the gate"]')
    await task(pa).waitFor({ timeout: WAIT })

    await section(pb, 'tasks')
    await task(pb).getByTestId('claim').click()
    await task(pb).getByTestId('claimed-by').filter({ hasText: 'Bo' }).waitFor({ timeout: WAIT })
    // The only slot is taken: Ana can only wait.
    await task(pa).getByTestId('claim').filter({ hasText: 'Join the waiting list' }).waitFor({ timeout: WAIT })
    await task(pb).getByTestId('finish').click()
    await task(pb).getByTestId('finish-time').fill('2:00')
    await task(pb).getByTestId('finish-log').click()
    await task(pa).getByTestId('done-by').filter({ hasText: 'Bo' }).waitFor({ timeout: WAIT })
    // The time is a contribution Ana can validate.
    await section(pa, 'contributions')
    const logged = pa.locator('[data-testid=contribution][data-description="Task: Fix the gate"]')
    await logged.getByTestId('validate').click()
    await logged.getByTestId('contribution-status').filter({ hasText: '1 validation' }).waitFor({ timeout: WAIT })

    await section(pa, 'tasks')
    await pa.getByTestId('party-title').fill('Clean the creek')
    await pa.getByTestId('party-place').fill('Old bridge')
    await pa.getByTestId('plan').click()
    await pa.getByText('The date is missing or not a date and time.').waitFor({ timeout: WAIT })
    await pa.getByTestId('party-date').fill('2030-05-04T09:30')
    await pa.getByTestId('party-every').fill('7')
    await pa.getByTestId('party-slots').fill('2')
    await pa.getByTestId('plan').click()
    const party = p => p.locator('[data-testid=party][data-title="Clean the creek"]')
    await party(pa).getByTestId('sign-up').click()
    await section(pb, 'tasks')
    await party(pb).getByTestId('sign-up').click()
    for (const p of [pa, pb]) {
      await party(p).getByTestId('signed-up').filter({ hasText: '2 of 2 places taken: Ana, Bo' }).waitFor({ timeout: WAIT })
      assert.match(await party(p).innerText(), /every week/)
    }
  }))

  test('a lending circle is started and paid into; time is given through the time bank', () => withLogs(async () => {
    const [a, b] = await Promise.all(['la', 'lb'].map(n => device(n).open()))
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Savings group', 'Ana')
    const pb = await b.page()
    await joinAndBeVouched(pb, await shareLink(pa), 'Savings group', 'Bo', pa)

    await section(pa, 'pot')
    await pa.getByTestId('circle-name').fill('Spring circle')
    await pa.getByTestId('circle-amount').fill('20')
    await pa.locator('[data-testid=circle-member][data-name=Ana]').check()
    await pa.getByTestId('open-circle-submit').click()
    await pa.getByText('a circle needs from 2 to').waitFor({ timeout: WAIT })
    await pa.locator('[data-testid=circle-member][data-name=Bo]').check()
    await pa.getByTestId('open-circle-submit').click()
    const circle = p => p.locator('[data-testid=circle][data-name="Spring circle"]')
    const round = (p, n) => circle(p).locator(`[data-testid=round][data-round="${n}"]`)
    await round(pa, 1).waitFor({ timeout: WAIT })
    assert.equal(await round(pa, 1).getAttribute('data-receiver'), 'Ana')
    assert.equal(await round(pa, 2).getAttribute('data-receiver'), 'Bo')
    assert.match(await round(pa, 1).innerText(), /20\.00 EUR/)

    await section(pb, 'pot')
    await round(pb, 1).getByTestId('pay-round').click()
    for (const p of [pa, pb]) {
      await circle(p).locator('[data-testid=round][data-round="1"][data-complete=true]').waitFor({ timeout: WAIT })
      assert.equal(await round(p, 1).getByTestId('paid').innerText(), 'Bo')
    }
    // Ana owes the next round, to Bo.
    assert.equal(await round(pa, 2).getByTestId('owing').innerText(), 'Ana')
    await round(pa, 2).getByTestId('pay-round').waitFor({ timeout: WAIT })

    const give = async (p, to, time, memo) => {
      await p.getByTestId('time-to').selectOption({ label: to })
      await p.getByTestId('time-amount').fill(time)
      await p.getByTestId('time-memo').fill(memo)
      await p.getByTestId('give-time-submit').click()
    }
    await give(pa, 'Bo', '11:00', 'Too much')
    await pa.getByText('credit limit').waitFor({ timeout: WAIT })
    await give(pa, 'Bo', '1:30', 'Fixed my bike')
    await pa.locator('[data-testid=time-transfer][data-memo="Fixed my bike"]').waitFor({ timeout: WAIT })
    const hours = (p, who) => p.locator(`[data-testid=time-account][data-name=${who}] [data-testid=hours]`)
    for (const p of [pa, pb]) {
      await hours(p, 'Bo').filter({ hasText: '+1:30 h' }).waitFor({ timeout: WAIT })
      assert.equal(await hours(p, 'Ana').innerText(), '-1:30 h')
    }
  }))

  test('a room starts from a template; the room list shows members and what is new', () => withLogs(async () => {
    const [a, b] = await Promise.all(['sa', 'sb'].map(n => device(n).open()))
    const pa = await a.page(servers.app.url)
    await pa.getByLabel('Room name').fill('Street kitchen')
    await pa.getByLabel('Your name in this room').fill('Ana')
    await pa.getByTestId('room-purpose').fill('Cook together on Sundays')
    await pa.getByTestId('template-mutual-aid').check()
    await pa.getByRole('button', { name: 'Create a room' }).click()
    await pa.getByTestId('room-name').filter({ hasText: 'Street kitchen' }).waitFor({ timeout: WAIT })
    await section(pa, 'charter')
    assert.equal(await pa.getByTestId('charter-purpose').innerText(), 'Cook together on Sundays')
    assert.match(await pa.getByTestId('charter-values').innerText(), /Solidarity, not charity/)
    assert.equal(await pa.getByTestId('charter-approvals-an-expense-needs').innerText(), '1 (never the requester\'s own)')
    await pa.locator('.history li').filter({ hasText: 'starter charter' }).first().waitFor({ timeout: WAIT })

    // The newcomer reads what the room is for before introducing themselves.
    const pb = await b.page()
    await follow(pb, await shareLink(pa))
    await section(pb, 'members')
    await pb.getByTestId('purpose').filter({ hasText: 'Cook together on Sundays' }).waitFor({ timeout: WAIT })
    await pb.getByTestId('profile-name').fill('Bo')
    await pb.getByTestId('profile-save').click()
    await standing(pb, 'pending')
    await section(pa, 'members')
    await pa.locator('[data-testid=pending-member][data-name=Bo]').getByTestId('vouch').click()
    await standing(pb, 'admitted')
    await pb.getByTestId('room-purpose').waitFor({ state: 'detached', timeout: WAIT })

    // Ana is elsewhere when Bo posts: her room list counts it as new until she opens the home.
    await post(pb, { title: 'Need onions' })
    await section(pa, 'board')
    await postItem(pa, 'Need onions').waitFor({ timeout: WAIT })
    const entry = pa.locator('[data-testid=room-entry][data-name="Street kitchen"]')
    await pa.getByRole('link', { name: 'Tequio' }).click()
    // Bo's introduction and his post.
    assert.equal(await entry.getAttribute('data-unread'), '2')
    assert.match(await entry.getByTestId('room-meta').innerText(), /^2 members · last activity /)
    await entry.getByTestId('room-link').click()
    await section(pa, 'home')
    await pa.locator('[data-testid=activity-item][data-new=true]').filter({ hasText: 'Need onions' }).waitFor({ timeout: WAIT })
    await pa.getByRole('link', { name: 'Tequio' }).click()
    assert.equal(await entry.getAttribute('data-unread'), '0')
  }))
})

describe('strong removal', () => {
  test('a removed member is cut off: the others move on to a new key, a newcomer joins with the new link and not the old one', () => withLogs(async () => {
    const [a, b, c, d, e] = await Promise.all(['ra', 'rb', 'rc', 'rd', 're'].map(n => device(n).open()))
    // What each page tells the signaling server: the topics it subscribes to and publishes on.
    const topics = new Map()
    const page = async (dev, t) => {
      const p = await dev.page()
      const seen = new Set()
      topics.set(p, seen)
      p.on('websocket', ws => ws.on('framesent', f => {
        try {
          const m = JSON.parse(String(f.payload))
          for (const t of [m.topic, ...(m.topics ?? [])]) if (t) seen.add(t)
        } catch {}
      }))
      await clockAt([p], t)
      return p
    }
    const t0 = Date.now()
    const pa = await page(a, t0)
    await pa.goto(servers.app.url)
    await createRoom(pa, 'Night shelter', 'Ana')
    const oldLink = await shareLink(pa)
    const [pb, pc] = [await page(b, t0), await page(c, t0)]
    await joinAndBeVouched(pb, oldLink, 'Night shelter', 'Bo', pa)
    await joinAndBeVouched(pc, oldLink, 'Night shelter', 'Cy', pa)
    await post(pa, { title: 'Blankets needed' })
    await boardIs(pc, ['Blankets needed'])

    // Ana proposes to remove Cy; Ana and Bo agree; two days later Ana records the outcome.
    await propose(pa, { title: 'Remove Cy', change: 'remove', member: 'Cy' })
    await stance(pa, 'Remove Cy', 'Agree')
    await stance(pb, 'Remove Cy', 'Agree')
    await tallyShows(pa, 'Remove Cy', 2)
    const later = t0 + 3 * DAY
    await clockAt([pa, pb, pc], later)
    await recordPassed(pa, 'Remove Cy', 'Removed by consent')

    // Cy's device is told it is no longer in the room; Ana's link is a new one.
    await pc.getByTestId('cut-off').filter({ hasText: 'no longer in the room' }).waitFor({ timeout: WAIT })
    let newLink = oldLink
    await waitFor('a new link', async () => (newLink = await shareLink(pa)) !== oldLink)
    assert.match(newLink, /#\/join\/[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{16}\.[0-9a-f]{32}$/)

    // Written after the removal: Bo gets it under the new key, Cy does not.
    await post(pa, { title: 'Soup on Friday' })
    await boardIs(pb, ['Blankets needed', 'Soup on Friday'])
    assert.deepEqual(await titles(pc), ['Blankets needed'])
    // Cy goes away: under the old key only Ana's and Bo's devices are left, which connect to
    // no one but members given the new key.
    await c.close()

    // A newcomer with the new link joins; one with the old link is told it was replaced (by
    // a signal: Ana's and Bo's devices make no connection to it).
    const pd = await page(d, later)
    await follow(pd, newLink)
    await pd.getByTestId('room-name').filter({ hasText: 'Night shelter' }).waitFor({ timeout: WAIT })
    await boardIs(pd, ['Blankets needed', 'Soup on Friday'])
    const pe = await page(e, later)
    await follow(pe, oldLink)
    await pe.getByTestId('cut-off').filter({ hasText: 'This link was replaced' }).waitFor({ timeout: WAIT })
    assert.equal(await pe.getByTestId('waiting').count(), 1, 'nothing of the room reached it')
    // Where the newcomer (who only ever had the new key) meets the room is where Bo meets it
    // now, and where Cy's device never went.
    const fresh = [...topics.get(pd)]
    assert.ok(fresh.length > 0 && fresh.every(t => topics.get(pb).has(t)), 'Bo meets the others there')
    assert.ok(fresh.every(t => !topics.get(pc).has(t)), 'Cy never reached the new meeting point')
  }))
  test('a member whose browser was closed while the key changed catches up when it opens the room again', () => withLogs(async () => {
    const [a, b, c] = await Promise.all(['oa', 'ob', 'oc'].map(n => device(n).open()))
    const open = async (dev, t) => {
      const p = await dev.page()
      await clockAt([p], t)
      return p
    }
    const t0 = Date.now()
    const pa = await open(a, t0)
    await pa.goto(servers.app.url)
    await createRoom(pa, 'Tool library', 'Ana')
    const oldLink = await shareLink(pa)
    const pb = await open(b, t0)
    await joinAndBeVouched(pb, oldLink, 'Tool library', 'Bo', pa)
    const pc = await open(c, t0)
    await joinAndBeVouched(pc, oldLink, 'Tool library', 'Cy', pa)
    await propose(pa, { title: 'Remove Cy', change: 'remove', member: 'Cy' })
    await stance(pa, 'Remove Cy', 'Agree')
    await stance(pb, 'Remove Cy', 'Agree')
    await tallyShows(pa, 'Remove Cy', 2)

    // Bo closes the browser; meanwhile Cy is removed, the room moves on, Ana writes.
    await b.close()
    const later = t0 + 3 * DAY
    await clockAt([pa, pc], later)
    await recordPassed(pa, 'Remove Cy', 'Removed by consent')
    await pc.getByTestId('cut-off').filter({ hasText: 'no longer in the room' }).waitFor({ timeout: WAIT })
    let newLink = oldLink
    await waitFor('a new link', async () => (newLink = await shareLink(pa)) !== oldLink)
    await post(pa, { title: 'Drill is back' })

    // Bo opens the room again with the first key only: Ana's device, still listening under it,
    // sends Bo the room (Bo holds the new key), and Bo's device moves on.
    await b.open()
    const pb2 = await open(b, later)
    await pb2.goto(servers.app.url)
    await pb2.getByTestId('room-link').filter({ hasText: 'Tool library' }).click()
    await boardIs(pb2, ['Drill is back'])
    await waitFor('Bo shares the new link', async () => (await shareLink(pb2)) === newLink)
    assert.equal(await pb2.getByTestId('cut-off').count(), 0)
    await post(pb2, { title: 'Ladder free' })
    await boardIs(pa, ['Drill is back', 'Ladder free'])
    assert.deepEqual(await titles(pc), [])
  }))
})

describe('stances in the open', () => {
  test('everyone sees who blocked and why, and who has not answered yet', () => withLogs(async () => {
    const [a, b, c] = await Promise.all(['sa', 'sb', 'sc'].map(n => device(n).open()))
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Soup kitchen', 'Ana')
    const link = await shareLink(pa)
    const [pb, pc] = [await b.page(), await c.page()]
    await joinAndBeVouched(pb, link, 'Soup kitchen', 'Bo', pa)
    await joinAndBeVouched(pc, link, 'Soup kitchen', 'Cy', pa)

    const title = 'Our purpose: soup'
    await propose(pa, { title, change: 'purpose', value: 'Soup for all' })
    await stance(pa, title, 'Agree')
    await stance(pb, title, 'Block', 'Bread too, not only soup')
    await tallyShows(pa, title, 2)

    await section(pa, 'decisions')
    const bo = decision(pa, title).locator('[data-testid=stance-row][data-name=Bo][data-stance=block]')
    await bo.waitFor({ timeout: WAIT })
    assert.equal(await bo.getByTestId('stance-reason').innerText(), 'Bread too, not only soup')
    assert.match(await bo.innerText(), /Block/)
    await decision(pa, title).locator('[data-testid=stance-row][data-name=Ana][data-stance=agree]').waitFor({ timeout: WAIT })
    assert.equal(await decision(pa, title).getByTestId('stance-row').count(), 2)
    assert.equal(await decision(pa, title).getByTestId('not-answered').innerText(), 'Not answered yet: Cy')
  }))

  test('a proposer closes a decision early and is asked to record its outcome; one everyone answered closes by itself', () => withLogs(async () => {
    const [a, b, c] = await Promise.all(['ea', 'eb', 'ec'].map(n => device(n).open()))
    const pa = await a.page(servers.app.url)
    await createRoom(pa, 'Bike shed', 'Ana')
    const link = await shareLink(pa)
    const [pb, pc] = [await b.page(), await c.page()]
    await joinAndBeVouched(pb, link, 'Bike shed', 'Bo', pa)
    await joinAndBeVouched(pc, link, 'Bike shed', 'Cy', pa)

    // Ana proposes (nothing to enact: no minimum open time), Ana and Bo agree, Cy does not
    // answer.
    const title = 'Paint the shed green'
    await section(pa, 'decisions')
    await pa.getByLabel('What should we decide?').fill(title)
    await pa.getByRole('button', { name: 'Propose' }).click()
    await decision(pa, title).waitFor({ timeout: WAIT })
    await stance(pa, title, 'Agree')
    await stance(pb, title, 'Agree', 'Green is fine')
    await tallyShows(pa, title, 2)
    // Only its proposer is offered to close it.
    assert.equal(await decision(pb, title).getByRole('button', { name: 'Close it now' }).count(), 0)
    await decision(pa, title).getByRole('button', { name: 'Close it now' }).click()
    await pa.locator(`[data-testid=decision][data-title="${title}"][data-outcome=passed]`).waitFor({ timeout: WAIT })
    await saved(pa)
    // Everyone sees it closed early; Cy can no longer answer.
    await section(pc, 'decisions')
    const closed = pc.locator(`[data-testid=decision][data-title="${title}"][data-outcome=passed]`)
    await closed.waitFor({ timeout: WAIT })
    assert.match(await closed.getByTestId('decision-meta').innerText(), /closed early by its proposer/)
    assert.equal(await closed.getByTestId('stance').count(), 0)

    // "What needs you" asks Ana, and only Ana, to record the outcome; its link leads there.
    await section(pa, 'home')
    const ask = pa.getByTestId('needs-me').getByRole('link', { name: 'A decision you proposed has closed: record its outcome' })
    await ask.waitFor({ timeout: WAIT })
    await section(pb, 'home')
    await pb.getByTestId('needs-me').waitFor({ timeout: WAIT })
    assert.doesNotMatch(await pb.getByTestId('needs-me').innerText(), /record its outcome/)
    await ask.click()
    await decision(pa, title).getByLabel('Outcome statement').fill('We paint it green in May')
    await decision(pa, title).getByRole('button', { name: 'Record the outcome' }).click()
    await section(pb, 'decisions')
    await decision(pb, title).getByTestId('statement').filter({ hasText: 'We paint it green in May' }).waitFor({ timeout: WAIT })
    await section(pa, 'home')
    await pa.getByTestId('activity').filter({ hasText: `closed ${title} early` }).waitFor({ timeout: WAIT })
    assert.equal(await pa.getByTestId('needs-me').getByRole('link', { name: /record its outcome/ }).count(), 0)

    // A decision all three answer closes by itself.
    const lunch = 'Lunch after the work party'
    await section(pb, 'decisions')
    await pb.getByLabel('What should we decide?').fill(lunch)
    await pb.getByRole('button', { name: 'Propose' }).click()
    await decision(pb, lunch).waitFor({ timeout: WAIT })
    await saved(pb)
    for (const p of [pa, pb, pc]) await stance(p, lunch, 'Agree')
    for (const p of [pa, pb, pc]) {
      await section(p, 'decisions')
      const done = p.locator(`[data-testid=decision][data-title="${lunch}"][data-outcome=passed]`)
      await done.waitFor({ timeout: WAIT })
      assert.match(await done.getByTestId('decision-meta').innerText(), /closed: everyone had answered/)
    }
  }))
})
