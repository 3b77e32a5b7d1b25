// Tequio's service worker: keeps the app shell so the app opens and works offline after one
// visit. The build (scripts/post-build.mjs) fills in VERSION and SHELL; a new deployment is a new
// worker, which waits until the page asks it to take over (the page tells the person first).
const VERSION = '__VERSION__'
const SHELL = __SHELL__
const CACHE = `tequio-shell-${VERSION}`

self.addEventListener('install', event => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE)
    await cache.addAll(SHELL)
    await keepConfig(cache)
  })())
})

// The deployment's network settings go with the shell, so an app first started offline after
// installing knows where devices meet. They are not in SHELL: a deployment may have none (the
// install must not fail for it), and editing them is no new version. Failing a fresh copy, the
// one an earlier version kept stays.
async function keepConfig (cache) {
  try {
    const response = await fetch('./config.json', { cache: 'no-cache' })
    if (response.ok) {
      await cache.put('./config.json', response)
      return
    }
  } catch {}
  const kept = await caches.match('./config.json')
  if (kept) await cache.put('./config.json', kept)
}

self.addEventListener('activate', event => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('tequio-shell-') && key !== CACHE) await caches.delete(key)
    }
    await self.clients.claim()
  })())
})

self.addEventListener('message', event => {
  if (event.data === 'take-over') self.skipWaiting()
})

self.addEventListener('fetch', event => {
  const request = event.request
  const url = new URL(request.url)
  if (request.method !== 'GET' || url.origin !== self.location.origin) return
  const scope = new URL(self.registration.scope)
  if (!url.pathname.startsWith(scope.pathname)) return
  const relative = url.pathname.slice(scope.pathname.length)
  if (relative === 'config.json') {
    // The deployment's network settings: fresh when online, the last copy when not.
    event.respondWith((async () => {
      const cache = await caches.open(CACHE)
      try {
        const response = await fetch(request)
        if (response.ok) await cache.put('./config.json', response.clone())
        return response
      } catch {
        return (await cache.match('./config.json')) ?? Response.error()
      }
    })())
    return
  }
  // Everything else in the shell comes from this version's cache: the page and its assets always
  // match, and a new version arrives as a new worker.
  event.respondWith((async () => {
    const cache = await caches.open(CACHE)
    const key = request.mode === 'navigate' || relative === '' ? './index.html' : request
    return (await cache.match(key, { ignoreSearch: true })) ?? fetch(request)
  })())
})

// The catch-up with no page open (src/background.rs, built as catchup.js and catchup_bg.wasm),
// where the browser has Periodic Background Sync (Chromium, for an installed app): the rooms'
// mailboxes are read from their relays and saved; what needs the person and was not reminded of
// is shown as a notification if they turned reminders on, and counted on the app's badge.
try { importScripts('./catchup.js') } catch { /* a build without it: no background catch-up */ }
let catchUpReady = null

async function catchUp () {
  // A page of the app that is open catches up by itself.
  if ((await self.clients.matchAll({ type: 'window', includeUncontrolled: true })).length > 0) return
  catchUpReady ??= wasm_bindgen({ module_or_path: './catchup_bg.wasm' })
  await catchUpReady
  let config = '{}'
  try {
    const response = (await fetch('./config.json').catch(() => null)) ??
      (await (await caches.open(CACHE)).match('./config.json'))
    if (response?.ok) config = await response.text()
  } catch { /* no configuration: the person's own settings, if any, are read from storage */ }
  const found = JSON.parse(await wasm_bindgen.catchUp(config))
  if (self.Notification?.permission === 'granted') {
    for (const r of found.reminders) {
      await self.registration.showNotification(r.title, { body: r.body, tag: r.tag, icon: 'icons/icon-192.png', data: { link: r.link } })
    }
  }
  if (found.badge > 0) await self.navigator.setAppBadge?.(found.badge).catch(() => {})
  else await self.navigator.clearAppBadge?.().catch(() => {})
}

self.addEventListener('periodicsync', event => {
  if (event.tag === 'tequio-catch-up' && typeof wasm_bindgen === 'function') event.waitUntil(catchUp())
})

// A reminder shown through the worker (browsers that allow no other way) opens the app at what
// it is about: an open window is brought forward, or a new one opened there.
self.addEventListener('notificationclick', event => {
  event.notification.close()
  const link = new URL(event.notification.data?.link ?? '', self.registration.scope).href
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window' })
    if (windows.length > 0) return windows[0].focus()
    return self.clients.openWindow(link)
  })())
})
