/**
 * One Wine prefix for the whole Windows run (vitest.windows.config.ts): creating one takes about
 * 10 s and 0.7 GB. The tests find it in WINEPREFIX; without Wine they skip (or fail under CI).
 */
import { createWinePrefix, removeWinePrefix, wineTools } from './wine.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (!wineTools().available) return undefined;
  const prefix = await createWinePrefix();
  process.env.WINEPREFIX = prefix;
  process.env.WINEDEBUG = '-all';
  return () => removeWinePrefix(prefix);
}
