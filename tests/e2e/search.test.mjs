// End-to-end: one search over the whole room, from any room screen. A member writes a page and
// posts a need; a word of the page's text finds the page, a word of the post finds the post, and
// each result opens its item. In Spanish, accents are folded both ways.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createRoom, post, postItem, section, useServers, waitFor, WAIT } from './harness.mjs'

const servers = useServers({ before, after })

async function writePage (page, title, text, create = 'Create the page') {
  await section(page, 'pages')
  await page.getByTestId('new-page').click()
  await page.getByTestId('page-title').fill(title)
  await page.getByTestId('page-text').fill(text)
  await page.getByRole('button', { name: create }).click()
  await page.getByTestId('page-rendered').waitFor({ timeout: WAIT })
}

describe('search', () => {
  test('a word of a page finds the page, a word of a post finds the post, and each opens', () => servers.withLogs(async () => {
    const d = await servers.device('searcher').open()
    const page = await d.page(servers.app.url)
    await createRoom(page, 'Tool library', 'Ana')
    await writePage(page, 'Lending rules', '# Lending rules\n\nEvery drill comes back with its battery charged.')
    await post(page, { title: 'Ladder for the roof', description: 'The gutters overflow when it rains.' })
    // Other posts beside it: only the one found is highlighted.
    for (let i = 0; i < 2; i++) await post(page, { title: `Jam jars ${i}` })

    // From another screen (Members), the search field is there.
    await section(page, 'members')
    const field = page.getByRole('searchbox', { name: 'Search this room' })
    assert.equal(await page.getByRole('search', { name: 'Search this room' }).count(), 1)
    const results = page.getByTestId('search-result')
    const status = page.getByTestId('search-status')
    // Nothing typed: nothing shown.
    assert.equal(await results.count(), 0)

    await field.fill('BATTERY')
    await results.first().waitFor({ timeout: WAIT })
    assert.equal(await results.count(), 1)
    const found = results.first()
    assert.equal(await found.getAttribute('data-kind'), 'page')
    await found.getByText('Page', { exact: true }).waitFor({ timeout: WAIT })
    await found.getByText(/battery charged/).waitFor({ timeout: WAIT })
    await status.filter({ hasText: '1 result' }).waitFor({ timeout: WAIT })
    await found.getByRole('link', { name: 'Lending rules' }).click()
    await page.locator('[data-testid=page][data-title="Lending rules"]').waitFor({ timeout: WAIT })
    await page.getByTestId('page-rendered').getByText(/battery charged/).waitFor({ timeout: WAIT })
    await page.locator('[data-testid=nav-pages][aria-current=page]').waitFor({ timeout: WAIT })
    // Following a result empties the search.
    assert.equal(await field.inputValue(), '')
    assert.equal(await results.count(), 0)

    // A word of the post's description (not its title) finds the post; it opens highlighted.
    await field.fill('gutters')
    await results.first().waitFor({ timeout: WAIT })
    assert.equal(await results.count(), 1)
    assert.equal(await results.first().getAttribute('data-kind'), 'post')
    await results.first().getByText('Need or offer', { exact: true }).waitFor({ timeout: WAIT })
    await results.first().getByRole('link', { name: 'Ladder for the roof' }).click()
    await postItem(page, 'Ladder for the roof').and(page.locator('[data-focused=true]')).waitFor({ timeout: WAIT })
    assert.equal(await page.locator('[data-testid=post][data-focused=true]').count(), 1)

    // A task is found by its title and opens highlighted among the tasks.
    await section(page, 'tasks')
    await page.getByLabel('What needs doing').fill('Sharpen the chisels')
    await page.getByRole('button', { name: 'Add the task' }).click()
    await page.locator('[data-testid=task][data-title="Sharpen the chisels"]').waitFor({ timeout: WAIT })
    await section(page, 'home')
    await field.fill('chisel')
    await results.first().waitFor({ timeout: WAIT })
    assert.equal(await results.first().getAttribute('data-kind'), 'task')
    await results.first().getByRole('link', { name: 'Sharpen the chisels' }).click()
    await page.locator('[data-testid=task][data-focused=true][data-title="Sharpen the chisels"]').waitFor({ timeout: WAIT })

    // A decision and a member open highlighted too.
    await section(page, 'decisions')
    await page.getByLabel('What should we decide?').fill('Buy a wheelbarrow')
    await page.getByRole('button', { name: 'Propose' }).click()
    await page.locator('[data-testid=decision][data-title="Buy a wheelbarrow"]').waitFor({ timeout: WAIT })
    await section(page, 'home')
    await field.fill('wheelbarrow')
    await results.first().waitFor({ timeout: WAIT })
    assert.equal(await results.first().getAttribute('data-kind'), 'decision')
    await results.first().getByRole('link', { name: 'Buy a wheelbarrow' }).click()
    await page.locator('[data-testid=decision][data-focused=true][data-title="Buy a wheelbarrow"]').waitFor({ timeout: WAIT })
    await field.fill('ana')
    const member = page.locator('[data-testid=search-result][data-kind=member]')
    await member.first().waitFor({ timeout: WAIT })
    await member.first().getByRole('link', { name: 'Ana' }).click()
    await page.locator('[data-testid=member][data-focused=true][data-name=Ana]').waitFor({ timeout: WAIT })

    // Every word must match; a word found nowhere says so.
    await field.fill('ladder battery')
    await status.filter({ hasText: 'Nothing in this room matches “ladder battery”.' }).waitFor({ timeout: WAIT })
    assert.equal(await results.count(), 0)
    assert.equal(await status.getAttribute('aria-live'), 'polite')
    await field.fill('')
    await waitFor('an empty search status', async () => (await status.textContent()).trim() === '')
  }))

  test('in Spanish, "manana" finds "mañana" and "café" finds "cafe"', () => servers.withLogs(async () => {
    const d = await servers.device('buscadora', { locale: 'es-MX' }).open()
    const page = await d.page(servers.app.url)
    await page.getByLabel('Nombre de la sala').fill('Cocina vecinal')
    await page.getByLabel('Tu nombre en esta sala').fill('Ana')
    await page.getByRole('button', { name: 'Crear una sala' }).click()
    await page.getByTestId('room-name').filter({ hasText: 'Cocina vecinal' }).waitFor({ timeout: WAIT })
    await writePage(page, 'Turnos de cocina', 'Abrimos mañana a las ocho. Hay cafe para todos.', 'Crear la página')
    const field = page.getByRole('searchbox', { name: 'Buscar en esta sala' })
    const results = page.getByTestId('search-result')
    for (const word of ['manana', 'Café']) {
      await field.fill(word)
      await results.first().waitFor({ timeout: WAIT })
      assert.equal(await results.count(), 1)
      await results.first().getByText('Página', { exact: true }).waitFor({ timeout: WAIT })
      await page.getByTestId('search-status').filter({ hasText: '1 resultado' }).waitFor({ timeout: WAIT })
    }
    await field.fill('bicicleta')
    await page.getByTestId('search-status').filter({ hasText: 'Nada en esta sala coincide con «bicicleta».' }).waitFor({ timeout: WAIT })
  }))
})
