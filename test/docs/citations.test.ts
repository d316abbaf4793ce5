/**
 * Comments cite public sources or pages in this repository's docs/, never a file a clone does
 * not have (a design note outside the repository, a path on a developer's machine).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const SCANNED = ['src', 'test', 'scripts', 'bench', 'windows', 'service'];

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|c|wxs|ps1|sh|md)$/.test(entry.name) ? [path] : [];
  });
}

const files = SCANNED.flatMap((dir) => sourceFiles(join(ROOT, dir))).filter((file) => !file.endsWith('citations.test.ts'));

describe('citations in the code', () => {
  it('name no document outside the repository', () => {
    const outside = /\b(?:M365|DESIGN|WINDOWS)\.md\b|\/work\/|\.\.\/shared\//;
    const offenders = files.filter((file) => outside.test(readFileSync(file, 'utf8'))).map((file) => relative(ROOT, file));
    expect(offenders).toEqual([]);
  });

  it('point only at docs/ pages that exist', () => {
    const missing = new Set<string>();
    for (const file of files) {
      for (const match of readFileSync(file, 'utf8').matchAll(/\bdocs\/([\w.-]+\.md)\b/g)) {
        if (!existsSync(join(ROOT, 'docs', match[1]!))) missing.add(`${relative(ROOT, file)} -> docs/${match[1]}`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});
