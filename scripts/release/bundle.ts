/**
 * The relay as ONE CommonJS script, the form a Node 20 single executable application runs
 * (nodejs.org/api/single-executable-applications.html: "the main script ... must be a single
 * CommonJS file"; its `require()` reaches built-in modules only).
 */
import { build, type Plugin } from 'esbuild';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { NativeAddon } from './native-addons.js';

export interface BundleOptions {
  readonly repo: string;
  readonly outfile: string;
  readonly version: string;
  /** SEA asset names, for src/sea/runtime.ts. */
  readonly assets: readonly string[];
  readonly addons: readonly NativeAddon[];
  /** The version of each addon package, for its package.json (the host compares it). */
  readonly addonVersions: ReadonlyMap<string, string>;
}

export async function bundleRelay(options: BundleOptions): Promise<void> {
  const { repo } = options;
  await build({
    entryPoints: [join(repo, 'src/cli/main.ts')],
    outfile: options.outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // The runtime seam runs first: it unpacks the assets and stands in for import.meta.url.
    inject: [join(repo, 'src/sea/runtime.ts')],
    define: {
      'import.meta.url': 'import_meta_url',
      // A string: esbuild 0.28 fails on an object-valued define whose members are read.
      __SEA_RELEASE__: JSON.stringify(JSON.stringify({ version: options.version, assets: options.assets })),
    },
    plugins: [nativeAddonsAsAssets(options.addons, options.addonVersions, repo)],
    legalComments: 'eof',
    logLevel: 'warning',
  });
}

/** Whether `name` is a package installed in the checkout (the build machine's binding). */
function installedHere(name: string, repo: string): boolean {
  if (name.startsWith('./')) return false;
  try {
    createRequire(join(repo, 'package.json')).resolve(name);
    return true;
  } catch {
    return false;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** `require('<binding package>')` loads the unpacked asset; the host's other bindings stay external. */
function nativeAddonsAsAssets(addons: readonly NativeAddon[], versions: ReadonlyMap<string, string>, repo: string): Plugin {
  const runtimeModule = join(repo, 'src/sea/runtime.ts');
  return {
    name: 'native-addons-as-sea-assets',
    setup(plugin) {
      for (const addon of addons) {
        plugin.onResolve({ filter: new RegExp(`^${escapeRegExp(addon.package)}(/package\\.json)?$`) }, (args) => ({
          path: args.path,
          namespace: 'sea-native-addon',
        }));
        // The host's bindings for other platforms, and its `./<name>.<platform>.node` next to itself:
        // modules that throw, inside the host's own try/catch (a real require() of a file would
        // make Node warn that a SEA's require reaches built-in modules only).
        // The build machine's own binding stays an external, so that the bundle also runs on it.
        plugin.onResolve({ filter: new RegExp(`^(${escapeRegExp(addon.host)}-|\\./.*\\.node$)`) }, (args) => {
          if (args.path.startsWith('./') && !args.importer.includes(`node_modules/${addon.host}/`)) return undefined;
          if (installedHere(args.path, repo)) return { path: args.path, external: true };
          return { path: args.path, namespace: 'sea-absent' };
        });
      }
      plugin.onLoad({ filter: /.*/, namespace: 'sea-absent' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is not carried by this executable`)});`,
        loader: 'js',
      }));
      plugin.onLoad({ filter: /.*/, namespace: 'sea-native-addon' }, (args) => {
        const addon = addons.find((candidate) => args.path.startsWith(candidate.package));
        if (addon === undefined) return undefined;
        const contents = args.path.endsWith('/package.json')
          ? `module.exports = ${JSON.stringify({ name: addon.package, version: versions.get(addon.package) })};`
          : `module.exports = require(${JSON.stringify(runtimeModule)}).loadNativeAddon(${JSON.stringify(addon.file)});`;
        return { contents, loader: 'js', resolveDir: '/' };
      });
    },
  };
}
