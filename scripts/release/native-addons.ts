/**
 * The native addons the Windows executable carries, as data. Each is a package with one
 * prebuilt `.node` file, an optional dependency of a package the bundle includes. The bundle
 * replaces `require(package)` with a load of the unpacked asset (src/sea/runtime.ts), and the
 * host's other platform bindings become externals that fail inside their own try/catch.
 * A native addon that is not in this table stops the build (esbuild has no loader for `.node`).
 */
export interface NativeAddon {
  /** The package that requires the binding. */
  readonly host: string;
  /** The win32-x64 binding package, as in package-lock.json. */
  readonly package: string;
  /** The `.node` file inside it; also its SEA asset name. */
  readonly file: string;
}

export const WINDOWS_NATIVE_ADDONS: readonly NativeAddon[] = [
  { host: '@napi-rs/keyring', package: '@napi-rs/keyring-win32-x64-msvc', file: 'keyring.win32-x64-msvc.node' },
];
