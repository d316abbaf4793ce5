/**
 * The templates in service/ (shipped in the npm package: package.json "files"). This module sits
 * two levels below the package root both as src/service/*.ts and as dist/service/*.js.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type TemplateName = 'systemd/smtp-oauth-relay.service' | 'launchd/com.smtp-oauth-relay.plist';

export const TEMPLATE_DIR = fileURLToPath(new URL('../../service/', import.meta.url));

export function readTemplate(name: TemplateName): string {
  return readFileSync(new URL(`../../service/${name}`, import.meta.url), 'utf8');
}
