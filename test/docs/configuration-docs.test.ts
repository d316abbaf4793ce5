/**
 * docs/configuration.md is generated from the configuration schema (`npm run config-docs`):
 * this fails when the committed page and the schema disagree, e.g. after a new key or default.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOCS_PATH, renderConfigurationDocs } from '../../scripts/config-docs.js';

describe('docs/configuration.md', () => {
  it('is what `npm run config-docs` renders from the schema today', () => {
    const committed = readFileSync(CONFIG_DOCS_PATH, 'utf8');
    expect(committed, 'docs/configuration.md is stale: run "npm run config-docs" and commit it').toBe(`${renderConfigurationDocs()}\n`);
  });

  it('lists keys with their defaults, and the forms of accounts[].auth', () => {
    const page = renderConfigurationDocs();
    expect(page).toContain('| `listen.port` | integer, 0 to 65535 | `2525` |');
    expect(page).toContain('| `listen.maxMessageBytes` | integer, > 0 | `36700160` (35 MiB) |');
    expect(page).toContain('| `accounts[].name` | string | required |');
    expect(page).toContain('### `accounts[].auth` with `method: "delegated"`');
    expect(page).toContain('| `accounts[].auth.keepAliveHours` | number, > 0 | `24` |');
  });

  it('names every key of a schema it is given, nested ones included', () => {
    const page = renderConfigurationDocs({
      type: 'object',
      required: ['a'],
      properties: { a: { type: 'object', properties: { b: { type: 'object', properties: { c: { type: 'integer', default: 7, description: 'C | D' } } } } } },
    });
    expect(page).toContain('| `a.b.c` | integer | `7` | C \\| D |');
  });
});
