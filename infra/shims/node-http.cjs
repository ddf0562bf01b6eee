// What the bundles get for `node:http` (infra/bundling.ts aliases it here): the same module object,
// taken without Node 22's ESM facade of a built-in, which reads every export and so loads Node's bundled
// undici through http's WebSocket getters (nodejs/node#57649). Powertools' Tracer imports it so:
// ~35 ms of every traced cold start, measured. CommonJS, so importers share the one object (the X-Ray
// SDK patches `request` and `get` on it) and esbuild's interop reads no export until it is used.
module.exports = process.getBuiltinModule('node:http');
