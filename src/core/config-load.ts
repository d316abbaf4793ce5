/**
 * Reads and validates the configuration file. Every problem names its path in the file
 * and what was expected; callers turn a ConfigError into exit code 78 (EX_CONFIG).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { configSchema, type Config } from './config.js';
import { ConfigError } from './errors.js';

export interface LoadedConfig {
  readonly config: Config;
  /** Absolute path of the file it came from. */
  readonly file: string;
}

export function loadConfig(file: string): LoadedConfig {
  const absolute = resolve(file);
  const text = readConfigText(absolute);
  const json = parseJson(absolute, text);
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(absolute, parsed.error.issues.map((issue) => describeIssue(issue, json)));
  }
  return { config: resolvePaths(parsed.data, dirname(absolute)), file: absolute };
}

function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new ConfigError(file, [`cannot read the file: ${reason}`]);
  }
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, [`not valid JSON: ${(error as Error).message}`]);
  }
}

const SECRET_KEY = /secret|password|token/i;

/** "accounts[0].mailbox: expected an e-mail address (found "nope")" */
function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const where = formatPath(issue.path);
  // Never echo a secret back, even a mistyped one.
  const found = issue.path.some((key) => SECRET_KEY.test(String(key))) ? undefined : valueAt(input, issue.path);
  const shown = found === undefined ? '' : ` (found ${JSON.stringify(found)})`;
  if (issue.code === 'unrecognized_keys') {
    return `${where || '(top level)'}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  return `${where || '(top level)'}: ${issue.message}${issue.code === 'custom' ? '' : shown}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  // Only short scalar values help; objects would flood the message (and may hold secrets).
  return typeof current === 'object' ? undefined : current;
}

function resolvePaths(config: Config, base: string): Config {
  const at = (path: string | undefined): string | undefined =>
    path === undefined || isAbsolute(path) ? path : resolve(base, path);
  return {
    ...config,
    dataDir: at(config.dataDir) ?? config.dataDir,
    upstream: { ...config.upstream, caFile: at(config.upstream.caFile) },
    identity: { ...config.identity, caFile: at(config.identity.caFile) },
    health: { ...config.health, tokenFile: at(config.health.tokenFile) },
  };
}
