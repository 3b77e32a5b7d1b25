// Registers the service worker and tells the person when a new version is ready.
// Where the installed app may sync in the background (Chromium), the service worker catches the
// rooms up from their relays now and then with no page open (see sw.js). Elsewhere nothing
// pretends to.
async function registerCatchUp (registration) {
  if (!('periodicSync' in registration)) return
  const state = await navigator.permissions.query({ name: 'periodic-background-sync' }).catch(() => null)
  if (state?.state !== 'granted') return
  await registration.periodicSync.register('tequio-catch-up', { minInterval: 6 * 60 * 60 * 1000 })
    .catch(e => console.warn('tequio: no background catch-up:', e))
}

if ('serviceWorker' in navigator) {
  const reloadWhenTakenOver = () => {
    let reloading = false
    navigator.serviceWorker.addEventListener('controllerchange', () => {
      if (!reloading) { reloading = true; location.reload() }
    })
  }
  const offer = worker => {
    if (document.getElementById('update-banner')) return
    const banner = document.createElement('div')
    banner.id = 'update-banner'
    banner.setAttribute('role', 'status')
    banner.dataset.testid = 'update-banner'
    const text = document.createElement('span')
    text.textContent = (navigator.language || '').startsWith('es')
      ? 'Hay una versión nueva de Tequio. '
      : 'A new version of Tequio is ready. '
    const button = document.createElement('button')
    button.textContent = (navigator.language || '').startsWith('es') ? 'Recargar' : 'Reload'
    button.addEventListener('click', () => { reloadWhenTakenOver(); worker.postMessage('take-over') })
    banner.append(text, button)
    document.body.prepend(banner)
  }
  navigator.serviceWorker.register('./sw.js').then(registration => {
    if (registration.waiting && navigator.serviceWorker.controller) offer(registration.waiting)
    registration.addEventListener('updatefound', () => {
      const worker = registration.installing
      worker?.addEventListener('statechange', () => {
        if (worker.state === 'installed' && navigator.serviceWorker.controller) offer(worker)
      })
    })
    registerCatchUp(registration)
  }).catch(e => console.warn('tequio: no offline support:', e))
}
