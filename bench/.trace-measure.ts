import { bundleAll } from './bundle';
import { measureInit } from './init';
const { functions } = await bundleAll();
const init = await measureInit(functions, Number(process.env.RUNS ?? 5));
for (const b of functions) {
  const runs = [...(init.get(b.name) ?? [])].sort((x, y) => x - y);
  console.log(b.name, b.bytes, 'init median', runs[Math.floor(runs.length / 2)]?.toFixed(1));
}
