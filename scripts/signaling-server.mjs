// Runs the real y-webrtc signaling server from node_modules, bound to 127.0.0.1 only
// (its own script listens on every interface). Port from PORT (default 4444).
import http from 'node:http'

const listen = http.Server.prototype.listen
http.Server.prototype.listen = function (port, ...rest) {
  return listen.call(this, port, '127.0.0.1', ...rest)
}
await import('../node_modules/y-webrtc/bin/server.js')
