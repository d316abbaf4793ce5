/*
 * Test workaround for Wine 8.0 only, never part of the product: Wine 8.0 has no
 * bcryptprimitives.dll!ProcessPrng, which Rust's standard library (and so the @napi-rs/keyring
 * binding) imports on Windows 10+. This stand-in forwards to advapi32!SystemFunction036
 * (RtlGenRandom). Wine 10 ships the real DLL. Built by test/windows/wine.ts into the test prefix.
 */
#include <windows.h>

typedef BOOLEAN (WINAPI *RtlGenRandomFn)(PVOID, ULONG);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  static RtlGenRandomFn gen;
  if (!gen) gen = (RtlGenRandomFn)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
  while (len > 0) {
    ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (!gen || !gen(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}
