// Trunk post-build hook: makes the build a PWA that runs under a strict Content-Security-Policy.
// - Moves Trunk's inline start-up script into a file, so `script-src 'self'` suffices (no
//   'unsafe-inline'; 'wasm-unsafe-eval' is what instantiating WebAssembly needs).
// - Adds the CSP as a <meta> (static hosts cannot be relied on to send headers).
// - Fills the service worker's shell list and version from the files of this build.
import { createHash } from 'node:crypto'
import { readdir, readFile, writeFile, stat } from 'node:fs/promises'
import path from 'node:path'

const dir = process.env.TRUNK_STAGING_DIR
if (!dir) throw new Error('run by trunk as a post_build hook (TRUNK_STAGING_DIR is not set)')
const indexPath = path.join(dir, 'index.html')
let html = await readFile(indexPath, 'utf8')

const inline = /<script type="module">([\s\S]*?)<\/script>/g
const scripts = [...html.matchAll(inline)]
for (const [whole, body] of scripts) {
  const name = `start-${createHash('sha256').update(body).digest('hex').slice(0, 16)}.js`
  await writeFile(path.join(dir, name), body)
  html = html.replace(whole, `<script type="module" src="./${name}"></script>`)
}
if (/<script(?![^>]*\bsrc=)[^>]*>/.test(html)) throw new Error('an inline script is left in index.html')

const csp = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  // Signaling servers are configured per deployment (config.json) and may live anywhere.
  "connect-src 'self' ws: wss:",
  "worker-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
].join('; ')
html = html.replace('<meta charset="utf-8">', `<meta charset="utf-8">\n  <meta http-equiv="Content-Security-Policy" content="${csp}">`)
await writeFile(indexPath, html)

async function files (root, prefix = '') {
  const out = []
  for (const entry of await readdir(path.join(root, prefix))) {
    const rel = prefix ? `${prefix}/${entry}` : entry
    if ((await stat(path.join(root, rel))).isDirectory()) out.push(...await files(root, rel))
    else out.push(rel)
  }
  return out
}
// config.json is no part of the version: the worker keeps it apart (keepConfig in sw.js).
// The background catch-up's wasm is fetched when it first runs (it needs the network then
// anyway), not with the shell every install downloads.
const shell = (await files(dir)).filter(f => f !== 'sw.js' && f !== 'config.json' && f !== 'catchup_bg.wasm').sort()
const hash = createHash('sha256')
for (const f of shell) hash.update(f).update(await readFile(path.join(dir, f)))
const version = hash.digest('hex').slice(0, 16)
const swPath = path.join(dir, 'sw.js')
const sw = (await readFile(swPath, 'utf8'))
  .replace('__VERSION__', version)
  .replace('__SHELL__', JSON.stringify(['./', ...shell.map(f => `./${f}`)]))
await writeFile(swPath, sw)
console.log(`post-build: CSP set, ${scripts.length} start-up script(s) moved, service worker ${version} with ${shell.length + 1} entries`)
