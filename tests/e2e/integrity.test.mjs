// End-to-end: a room backup tampered with by a modified client (made natively by
// `examples/tampered_room.rs`: vouches, the room's name and the board deleted, a ledger amount
// altered, a profile overwritten) is restored through the start page. Members, the pot and the
// board are as they were signed; the header warns and Members → Room integrity lists every attempt.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { post, postItem, section, standing, useServers, WAIT } from './harness.mjs'

const servers = useServers({ before, after })
const { device, withLogs } = servers

describe('room integrity', () => {
  test('a tampered backup restores as it was signed and lists what was tampered with', () => withLogs(async () => {
    const file = path.join(os.tmpdir(), `tequio-e2e-${process.pid}-tampered.json`)
    const honest = JSON.parse(execFileSync('cargo', ['run', '--quiet', '--example', 'tampered_room', '--', file], { encoding: 'utf8' }))
    assert.ok(honest.tampered >= 6)

    const d = await device('integrity').open()
    const p = await d.page(servers.app.url)
    await p.getByTestId('import-file').setInputFiles(file)
    await p.getByTestId('import-done').filter({ hasText: `Restored “${honest.name}”` }).waitFor({ timeout: WAIT })
    await p.getByTestId('room-link').filter({ hasText: honest.name }).click()
    await p.getByTestId('room-name').filter({ hasText: honest.name }).waitFor({ timeout: WAIT })

    // The header warns, with the number of ignored changes.
    const warning = p.getByTestId('tamper-warning')
    await warning.waitFor({ timeout: WAIT })
    assert.match(await warning.innerText(), new RegExp(`${honest.tampered + honest.unverified.length} changes`))

    // Members as signed: all three admitted, each with a key fingerprint; the list of attempts.
    await warning.click()
    await standing(p, 'admitted')
    const members = p.locator('[data-testid=member-list] [data-testid=member]')
    await members.nth(honest.members.length - 1).waitFor({ timeout: WAIT })
    assert.deepEqual(
      (await members.evaluateAll(els => els.map(e => e.dataset.name))).sort(),
      [...honest.members].sort())
    assert.equal(await p.locator('[data-testid=member-list] [data-testid=fingerprint]').count(), honest.members.length)
    const items = p.getByTestId('tamper-item')
    assert.equal(await items.count(), honest.tampered)
    const keys = await items.evaluateAll(els => els.map(e => e.dataset.key))
    for (const key of ['name', 'posts']) assert.ok(keys.includes(key), `${key} is listed`)
    assert.ok(keys.some(k => k.startsWith('vouch:')), 'deleted vouches are listed')
    assert.ok((await items.allInnerTexts()).some(t => t.includes('field “amount” changed')))
    // The forged vouch is listed as not verifying (and admitted nobody).
    const forged = p.getByTestId('unverified-item')
    await forged.first().waitFor({ timeout: WAIT })
    assert.deepEqual(await forged.evaluateAll(els => els.map(e => e.dataset.key)), honest.unverified)

    // The pot holds what was signed, not the altered amount.
    await section(p, 'pot')
    await p.getByTestId('balance').filter({ hasText: '25.00' }).waitFor({ timeout: WAIT })

    // The board whose map was deleted still works.
    await post(p, { title: 'Ladder to lend', category: 'Goods' })
    await postItem(p, 'Ladder to lend').waitFor({ timeout: WAIT })
  }))
})
