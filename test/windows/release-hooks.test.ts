/**
 * The release's hooks for the Windows service host and the MSI (scripts/release/windows-hooks.ts):
 * with sources of their own in a scratch repository, the host is built with mingw-w64 (a wmain
 * program, so -municode), runs under Wine, a PowerShell script is shipped, and the MSI gets the
 * Version and ReleaseDir variables.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMsi, buildServiceHost, copyWindowsScripts, MSI_FILE, SERVICE_HOST_EXE } from '../../scripts/release/windows-hooks.js';
import { requireToolUnderCi, systemTool } from '../support/system-tool.js';
import { runWine, wineTools } from './wine.js';

const wine = wineTools();
const wixl = systemTool('wixl', ['wixl', '--version'], 'apt-get install wixl msitools');
const tools = wine.available ? wixl : wine;

const HOST_SOURCE = `#include <windows.h>
#include <stdio.h>
int wmain(int argc, wchar_t **argv) { wprintf(L"host %d\\n", argc); return 0; }
`;

/** The smallest package wixl takes that uses both variables. */
const MSI_SOURCE = `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="hook-check" Language="1033" Version="$(var.Version)" Manufacturer="test" UpgradeCode="6d1f2b4e-1111-4222-8333-944455556667">
    <Package InstallerVersion="200" Compressed="yes" InstallScope="perMachine" />
    <Media Id="1" Cabinet="h.cab" EmbedCab="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="hook-check">
          <Component Id="c1" Guid="6d1f2b4e-aaaa-4bbb-8ccc-9ddddeeeeff1" Win64="yes">
            <File Id="f1" Source="$(var.ReleaseDir)/${SERVICE_HOST_EXE}" KeyPath="yes" />
          </Component>
          <Component Id="c2" Guid="6d1f2b4e-aaaa-4bbb-8ccc-9ddddeeeeff2" Win64="yes">
            <File Id="f2" Source="$(var.ReleaseDir)/check.ps1" KeyPath="yes" />
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="main" Level="1"><ComponentRef Id="c1" /><ComponentRef Id="c2" /></Feature>
  </Product>
</Wix>
`;

describe.runIf(tools.available)('release hooks for the service host and the MSI', () => {
  let repo: string;
  let release: string;
  beforeAll(async () => {
    repo = await mkdtemp(join(tmpdir(), 'release-hooks-'));
    release = join(repo, 'release');
    await mkdir(join(repo, 'windows'), { recursive: true });
    await mkdir(release);
  });
  afterAll(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  it('do nothing without their sources', () => {
    expect(buildServiceHost(repo, release)).toBeUndefined();
    expect(copyWindowsScripts(repo, release)).toEqual([]);
    expect(buildMsi(repo, release, '1.2.3')).toBeUndefined();
  });

  it('build the host with mingw-w64 (it runs under Wine) and the MSI with the version and the release folder', async () => {
    await writeFile(join(repo, 'windows', 'service-host.c'), HOST_SOURCE);
    await writeFile(join(repo, 'windows', 'smtp-oauth-relay.wxs'), MSI_SOURCE);
    await writeFile(join(repo, 'windows', 'check.ps1'), 'Write-Output ok\n');
    expect(buildServiceHost(repo, release)).toBe(SERVICE_HOST_EXE);
    expect(await runWine(join(release, SERVICE_HOST_EXE), ['a', 'b'])).toMatchObject({ code: 0, stdout: 'host 3\r\n' }); // CRLF: the C runtime's text mode

    expect(copyWindowsScripts(repo, release)).toEqual(['check.ps1']);
    expect(buildMsi(repo, release, '1.2.3')).toBe(MSI_FILE);
    expect(existsSync(join(release, MSI_FILE))).toBe(true);
    const properties = execFileSync('msiinfo', ['export', join(release, MSI_FILE), 'Property'], { encoding: 'utf8' });
    expect(properties).toMatch(/^ProductVersion\t1\.2\.3\r?$/m);
  });
});

requireToolUnderCi(tools);
