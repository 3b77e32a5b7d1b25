// A minimal static file server for the release build, on 127.0.0.1 only.
// Usage: node scripts/static-server.mjs <dir> <port> [config-json]
// The optional third argument is served as config.json (how the app finds its signaling server).
import http from 'node:http'
import { readFile } from 'node:fs/promises'
import path from 'node:path'

const [dir = 'dist', port = '8080', config] = process.argv.slice(2)
const root = path.resolve(dir)
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.json': 'application/json', '.webmanifest': 'application/manifest+json',
  '.png': 'image/png', '.svg': 'image/svg+xml',
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost')
  let file = decodeURIComponent(url.pathname)
  if (file.endsWith('/')) file += 'index.html'
  if (file.endsWith('/config.json') && config) {
    res.writeHead(200, { 'content-type': types['.json'], 'cache-control': 'no-store' })
    return res.end(config)
  }
  const full = path.join(root, file)
  if (!full.startsWith(root)) { res.writeHead(403); return res.end() }
  try {
    const body = await readFile(full)
    res.writeHead(200, { 'content-type': types[path.extname(full)] ?? 'application/octet-stream', 'cache-control': 'no-cache' })
    res.end(body)
  } catch {
    res.writeHead(404); res.end('not found')
  }
})
server.listen(Number(port), '127.0.0.1', () => {
  console.log(`serving ${root} on http://127.0.0.1:${server.address().port}/`)
})
