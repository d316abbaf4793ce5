/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and prints where the time went: self time by
 * function and by package, as shares of the sampled time. Used for docs/performance.md:
 *   BENCH_RELAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" BENCH_ONLY=scenarios \
 *     BENCH_SCENARIOS=fresh-1 npm run bench && npx tsx bench/profile-summary.ts /tmp/prof/*.cpuprofile
 */
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function where(url: string): string {
  if (url === '') return '(native / V8)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules?.[1] !== undefined) return modules[1];
  if (url.startsWith('node:')) return url.replace(/^node:internal\/(\w+).*/, 'node:$1');
  const own = /\/dist\/([^/]+)\//.exec(url);
  return own?.[1] !== undefined ? `relay ${own[1]}/` : url;
}

const path = process.argv[2];
if (path === undefined) throw new Error('usage: profile-summary.ts FILE.cpuprofile');
const profile = JSON.parse(await readFile(path, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idle = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
const busy = total - idle;
const add = (map: Map<string, number>, key: string, us: number): void => void map.set(key, (map.get(key) ?? 0) + us);
const functions = new Map<string, number>();
const packages = new Map<string, number>();
for (const [id, us] of selfUs) {
  const frame = byId.get(id)?.callFrame;
  if (frame === undefined || frame.functionName === '(idle)') continue;
  add(functions, `${frame.functionName || '(anonymous)'} ${where(frame.url)}:${frame.lineNumber + 1}`, us);
  add(packages, where(frame.url), us);
}
const top = (map: Map<string, number>, n: number): string[] =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, us]) => `  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
process.stdout.write(
  [
    `${path}: ${(total / 1e6).toFixed(1)} s sampled, busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / total).toFixed(0)}%)`,
    'self time by package (share of busy time):',
    ...top(packages, 15),
    'self time by function:',
    ...top(functions, 30),
    '',
  ].join('\n'),
);
