/*
 * smtp-oauth-relay-service.exe: the Windows service host of smtp-oauth-relay (see docs/windows-service.md).
 *
 * The Service Control Manager starts this program; it starts the relay as a child process
 *   "<this folder>\smtp-oauth-relay.exe" serve --config <file> --stop-on-stdin-close
 * and relays the SCM's world to it:
 *  - start: START_PENDING (with wait hints) until the relay logs "relay started", then RUNNING;
 *  - stop / shutdown: STOP_PENDING, the child's stdin is closed (the relay stops gracefully: 421 to
 *    newcomers, deliveries finish), a bounded wait, then TerminateProcess; STOPPED;
 *  - the child dies: the reason (exit code, last lines of stderr) goes to the Event Log; exit 78
 *    (EX_CONFIG: a wrong configuration) stops the service with that service-specific exit code;
 *    any other exit restarts the child after a growing delay. Should this host itself die, the
 *    SCM's recovery actions (set by `prepare`, or `sc failure`) restart the service.
 *  - the relay's stdout and stderr go to <data>\logs\service.log; a stderr line starting with
 *    "<4>" (warning) or "<3>" (error), the sd-daemon(3) prefixes, is also written to the Event Log.
 *
 * Other modes (run by the installer as an administrator):
 *   prepare [--data-dir D] [--account A]
 *                           create %ProgramData%\smtp-oauth-relay and the data folder with their final
 *                           DACL (SYSTEM, Administrators, the service account: NT SERVICE\smtp-oauth-relay
 *                           unless A is given; protected), and set the service's recovery actions
 *   event-log <info|warn|error> <text>   write one event through the registered source
 *   show-acl <path>         print the path's owner and DACL in SDDL (checks and tests)
 *   service-sid             print the SID of NT SERVICE\smtp-oauth-relay
 *
 * Build: windows/build-service-host.sh OUT.exe (gcc + the message table of service-messages.mc);
 * `x86_64-w64-mingw32-gcc -O2 -municode -o OUT.exe service-host.c -ladvapi32` also works, without
 * the message texts Event Viewer shows.
 */
#define WIN32_LEAN_AND_MEAN
#ifndef UNICODE
#define UNICODE
#endif
#ifndef _UNICODE
#define _UNICODE
#endif
#include <windows.h>
#include <wincrypt.h>
#include <aclapi.h>
#include <sddl.h>
#include <shellapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define SERVICE_NAME L"smtp-oauth-relay"
#define REGISTRY_KEY L"SOFTWARE\\smtp-oauth-relay"
#define RELAY_EXE L"smtp-oauth-relay.exe"
/* Event ids: the same numbers as src/health/os-log.ts; message texts in service-messages.mc. */
#define EVENT_INFO 1
#define EVENT_WARN 100
#define EVENT_ERROR 101
/* sysexits.h EX_CONFIG: the relay's exit code for a wrong configuration (docs/windows-service.md). */
#define EXIT_CONFIG 78
#define START_WAIT_MS 120000
#define TAIL_LINES 6
#define TAIL_CHARS 400
#define LOG_ROTATE_BYTES (10 * 1024 * 1024)

static const DWORD restart_delays_ms[] = { 2000, 10000, 30000, 60000 };
/* A child that ran this long without dying was healthy: the next crash starts the delays over. */
#define HEALTHY_RUN_MS (5 * 60 * 1000)

typedef struct {
  wchar_t config[MAX_PATH * 2];
  wchar_t data_dir[MAX_PATH * 2];
  wchar_t child[8192]; /* program and leading arguments, already quoted */
  wchar_t account[256]; /* prepare: the account to grant, when not the virtual account */
  DWORD stop_timeout_ms;
} settings_t;

static settings_t settings;
static SERVICE_STATUS status;
static SERVICE_STATUS_HANDLE status_handle;
static HANDLE stop_event, started_event;
static HANDLE event_source;
static HANDLE log_file = INVALID_HANDLE_VALUE;
static CRITICAL_SECTION log_lock;
static char stderr_tail[TAIL_LINES][TAIL_CHARS];
static int tail_next;

/* ---------- Event Log and the service's own log file ---------- */

static void report_event(WORD type, DWORD id, const wchar_t *text) {
  if (event_source == NULL) event_source = RegisterEventSourceW(NULL, SERVICE_NAME);
  if (event_source == NULL) return;
  /* Severity bits as mc.exe compiles them (winerror.h layout): the id Event Viewer shows is the low word. */
  DWORD severity = type == EVENTLOG_ERROR_TYPE ? 0xC0000000 : type == EVENTLOG_WARNING_TYPE ? 0x80000000 : 0x40000000;
  LPCWSTR strings[1] = { text };
  ReportEventW(event_source, type, 0, severity | id, NULL, 1, 0, strings, NULL);
}

static void log_bytes(const char *bytes, DWORD length) {
  if (log_file == INVALID_HANDLE_VALUE) return;
  EnterCriticalSection(&log_lock);
  DWORD written;
  WriteFile(log_file, bytes, length, &written, NULL);
  LeaveCriticalSection(&log_lock);
}

/* One line of the host's own, as JSON like the relay's lines, so one reader parses both. */
static void log_host(const char *level, const wchar_t *text) {
  char utf8[2048], escaped[4096], line[4400];
  WideCharToMultiByte(CP_UTF8, 0, text, -1, utf8, sizeof utf8, NULL, NULL);
  size_t j = 0;
  for (size_t i = 0; utf8[i] != 0 && j < sizeof escaped - 7; i++) {
    unsigned char c = (unsigned char)utf8[i];
    if (c == '"' || c == '\\') { escaped[j++] = '\\'; escaped[j++] = (char)c; }
    else if (c < 0x20) j += (size_t)snprintf(escaped + j, sizeof escaped - j, "\\u%04x", c);
    else escaped[j++] = (char)c;
  }
  escaped[j] = 0;
  SYSTEMTIME now;
  GetSystemTime(&now);
  int n = snprintf(line, sizeof line, "{\"source\":\"service-host\",\"level\":\"%s\",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"msg\":\"%s\"}\r\n", level,
                   now.wYear, now.wMonth, now.wDay, now.wHour, now.wMinute, now.wSecond, now.wMilliseconds, escaped);
  if (n > 0) log_bytes(line, (DWORD)(n < (int)sizeof line ? n : (int)sizeof line - 1));
}

/* Both: what an administrator looks at first (Event Viewer), and the file next to the relay's log. */
static void report(WORD type, const wchar_t *format, ...) {
  wchar_t text[2048];
  va_list args;
  va_start(args, format);
  _vsnwprintf(text, sizeof text / sizeof text[0] - 1, format, args);
  va_end(args);
  text[sizeof text / sizeof text[0] - 1] = 0;
  DWORD id = type == EVENTLOG_ERROR_TYPE ? EVENT_ERROR : type == EVENTLOG_WARNING_TYPE ? EVENT_WARN : EVENT_INFO;
  report_event(type, id, text);
  log_host(type == EVENTLOG_ERROR_TYPE ? "error" : type == EVENTLOG_WARNING_TYPE ? "warn" : "info", text);
}

/* Creates the folder and its missing parents; each new one inherits its parent's DACL. */
static void make_folders(const wchar_t *path) {
  wchar_t partial[MAX_PATH * 2];
  wcsncpy(partial, path, MAX_PATH * 2 - 1);
  partial[MAX_PATH * 2 - 1] = 0;
  for (wchar_t *p = partial + 3; *p != 0; p++) {
    if (*p != L'\\') continue;
    *p = 0;
    CreateDirectoryW(partial, NULL);
    *p = L'\\';
  }
  CreateDirectoryW(partial, NULL);
}

static void open_log_file(void) {
  wchar_t dir[MAX_PATH * 2], path[MAX_PATH * 2], old[MAX_PATH * 2];
  _snwprintf(dir, MAX_PATH * 2, L"%ls\\logs", settings.data_dir);
  make_folders(dir);
  _snwprintf(path, MAX_PATH * 2, L"%ls\\service.log", dir);
  WIN32_FILE_ATTRIBUTE_DATA info;
  if (GetFileAttributesExW(path, GetFileExInfoStandard, &info) && (info.nFileSizeHigh > 0 || info.nFileSizeLow > LOG_ROTATE_BYTES)) {
    _snwprintf(old, MAX_PATH * 2, L"%ls.1", path);
    MoveFileExW(path, old, MOVEFILE_REPLACE_EXISTING);
  }
  log_file = CreateFileW(path, FILE_APPEND_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
}

/* ---------- settings: command line, then the registry the installer wrote, then defaults ---------- */

static BOOL registry_string(const wchar_t *name, wchar_t *out, DWORD chars) {
  wchar_t raw[MAX_PATH * 2];
  DWORD size = sizeof raw;
  if (RegGetValueW(HKEY_LOCAL_MACHINE, REGISTRY_KEY, name, RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, NULL, raw, &size) != ERROR_SUCCESS) return FALSE;
  return ExpandEnvironmentStringsW(raw, out, chars) > 0;
}

static void program_data_folder(wchar_t *out, DWORD chars) {
  wchar_t base[MAX_PATH];
  if (GetEnvironmentVariableW(L"ProgramData", base, MAX_PATH) == 0) wcscpy(base, L"C:\\ProgramData");
  _snwprintf(out, chars, L"%ls\\%ls", base, SERVICE_NAME);
}

static void own_folder(wchar_t *out, DWORD chars) {
  GetModuleFileNameW(NULL, out, chars);
  wchar_t *slash = wcsrchr(out, L'\\');
  if (slash != NULL) *slash = 0;
}

/* CommandLineToArgvW's rules, reversed: backslashes are literal unless they precede a quote. */
static void append_quoted(wchar_t *out, size_t chars, const wchar_t *arg) {
  size_t n = wcslen(out);
  if (n > 0 && n < chars - 1) out[n++] = L' ';
  if (n < chars - 1) out[n++] = L'"';
  for (const wchar_t *p = arg; *p != 0 && n < chars - 4; p++) {
    size_t backslashes = 0;
    while (*p == L'\\') { backslashes++; p++; }
    if (*p == 0) { for (size_t i = 0; i < backslashes * 2 && n < chars - 2; i++) out[n++] = L'\\'; break; }
    if (*p == L'"') { for (size_t i = 0; i < backslashes * 2 + 1 && n < chars - 3; i++) out[n++] = L'\\'; }
    else { for (size_t i = 0; i < backslashes && n < chars - 3; i++) out[n++] = L'\\'; }
    out[n++] = *p;
  }
  if (n < chars - 1) out[n++] = L'"';
  out[n] = 0;
}

/* Reads --config, --data-dir, --stop-timeout and, after "--", the child program and its first arguments. */
static void load_settings(int argc, wchar_t **argv, int first) {
  settings.config[0] = settings.data_dir[0] = settings.child[0] = settings.account[0] = 0;
  settings.stop_timeout_ms = 45000; /* above the relay's own stop bound (deliveries, then a DATA in progress) */
  int i = first;
  for (; i < argc; i++) {
    if (wcscmp(argv[i], L"--") == 0) { i++; break; }
    if (i + 1 >= argc) break;
    if (wcscmp(argv[i], L"--config") == 0) wcsncpy(settings.config, argv[++i], MAX_PATH * 2 - 1);
    else if (wcscmp(argv[i], L"--data-dir") == 0) wcsncpy(settings.data_dir, argv[++i], MAX_PATH * 2 - 1);
    else if (wcscmp(argv[i], L"--account") == 0) wcsncpy(settings.account, argv[++i], 255);
    else if (wcscmp(argv[i], L"--stop-timeout") == 0) settings.stop_timeout_ms = (DWORD)wcstoul(argv[++i], NULL, 10) * 1000;
  }
  for (; i < argc; i++) append_quoted(settings.child, sizeof settings.child / sizeof settings.child[0], argv[i]);

  wchar_t base[MAX_PATH * 2];
  program_data_folder(base, MAX_PATH * 2);
  if (settings.config[0] == 0 && !registry_string(L"ConfigFile", settings.config, MAX_PATH * 2)) _snwprintf(settings.config, MAX_PATH * 2, L"%ls\\relay.json", base);
  if (settings.data_dir[0] == 0 && !registry_string(L"DataDir", settings.data_dir, MAX_PATH * 2)) _snwprintf(settings.data_dir, MAX_PATH * 2, L"%ls\\data", base);
  if (settings.child[0] == 0) {
    wchar_t exe[MAX_PATH * 2];
    own_folder(exe, MAX_PATH * 2);
    wcsncat(exe, L"\\" RELAY_EXE, MAX_PATH * 2 - wcslen(exe) - 1);
    append_quoted(settings.child, sizeof settings.child / sizeof settings.child[0], exe);
  }
}

/* ---------- the SCM ---------- */

static void set_state(DWORD state, DWORD wait_hint) {
  status.dwCurrentState = state;
  status.dwWaitHint = wait_hint;
  status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  if (state == SERVICE_START_PENDING) status.dwControlsAccepted = SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN;
  status.dwCheckPoint = state == SERVICE_RUNNING || state == SERVICE_STOPPED ? 0 : status.dwCheckPoint + 1;
  SetServiceStatus(status_handle, &status);
}

static DWORD WINAPI control_handler(DWORD control, DWORD type, LPVOID data, LPVOID context) {
  (void)type; (void)data; (void)context;
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
      SetEvent(stop_event);
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

/* ---------- the child ---------- */

typedef struct {
  HANDLE process;
  HANDLE stdin_write; /* closing it is the relay's stop request */
  HANDLE readers[2];
  ULONGLONG started_at;
} child_t;

typedef struct { HANDLE pipe; BOOL is_stderr; } reader_args_t;

static void remember_tail(const char *line, size_t length) {
  if (length >= TAIL_CHARS) length = TAIL_CHARS - 1;
  EnterCriticalSection(&log_lock);
  memcpy(stderr_tail[tail_next], line, length);
  stderr_tail[tail_next][length] = 0;
  tail_next = (tail_next + 1) % TAIL_LINES;
  LeaveCriticalSection(&log_lock);
}

static void on_line(char *line, size_t length, BOOL is_stderr) {
  while (length > 0 && (line[length - 1] == '\r' || line[length - 1] == '\n')) length--;
  log_bytes(line, (DWORD)length);
  log_bytes("\r\n", 2);
  if (!is_stderr) {
    /* The relay's pino line for a completed start (src/daemon/relay.ts). */
    if (strstr(line, "\"msg\":\"relay started\"") != NULL) SetEvent(started_event);
    return;
  }
  if (length > 3 && line[0] == '<' && (line[1] == '3' || line[1] == '4') && line[2] == '>') {
    wchar_t text[1024];
    int n = MultiByteToWideChar(CP_UTF8, 0, line + 3, (int)(length - 3), text, 1023);
    text[n > 0 ? n : 0] = 0;
    if (line[1] == '3') report_event(EVENTLOG_ERROR_TYPE, EVENT_ERROR, text);
    else report_event(EVENTLOG_WARNING_TYPE, EVENT_WARN, text);
    return;
  }
  if (length > 0) remember_tail(line, length);
}

static DWORD WINAPI read_pipe(LPVOID param) {
  reader_args_t args = *(reader_args_t *)param;
  free(param);
  char buffer[8192], line[16384];
  size_t used = 0;
  DWORD got;
  while (ReadFile(args.pipe, buffer, sizeof buffer, &got, NULL) && got > 0) {
    for (DWORD i = 0; i < got; i++) {
      if (used < sizeof line - 1) line[used++] = buffer[i];
      if (buffer[i] == '\n' || used == sizeof line - 1) { line[used] = 0; on_line(line, used, args.is_stderr); used = 0; }
    }
  }
  if (used > 0) { line[used] = 0; on_line(line, used, args.is_stderr); }
  CloseHandle(args.pipe);
  return 0;
}

static HANDLE start_reader(HANDLE pipe, BOOL is_stderr) {
  reader_args_t *args = malloc(sizeof *args);
  args->pipe = pipe;
  args->is_stderr = is_stderr;
  return CreateThread(NULL, 0, read_pipe, args, 0, NULL);
}

/* The SID of the account this process runs as (NT SERVICE\smtp-oauth-relay by default). */
static BOOL own_account_sid(wchar_t *out, size_t chars) {
  HANDLE token;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) return FALSE;
  BYTE buffer[512];
  DWORD length = 0;
  BOOL ok = GetTokenInformation(token, TokenUser, buffer, sizeof buffer, &length);
  CloseHandle(token);
  LPWSTR text;
  if (!ok || !ConvertSidToStringSidW(((TOKEN_USER *)buffer)->User.Sid, &text)) return FALSE;
  wcsncpy(out, text, chars - 1);
  out[chars - 1] = 0;
  LocalFree(text);
  return TRUE;
}

static BOOL start_child(child_t *child) {
  SECURITY_ATTRIBUTES inherit = { sizeof inherit, NULL, TRUE };
  HANDLE in_read, in_write, out_read, out_write, err_read, err_write;
  if (!CreatePipe(&in_read, &in_write, &inherit, 0)) return FALSE;
  if (!CreatePipe(&out_read, &out_write, &inherit, 0)) return FALSE;
  if (!CreatePipe(&err_read, &err_write, &inherit, 0)) return FALSE;
  /* Our ends stay ours: the child inherits only its own. */
  SetHandleInformation(in_write, HANDLE_FLAG_INHERIT, 0);
  SetHandleInformation(out_read, HANDLE_FLAG_INHERIT, 0);
  SetHandleInformation(err_read, HANDLE_FLAG_INHERIT, 0);

  static wchar_t command[12000];
  command[0] = 0;
  wcsncpy(command, settings.child, 12000 - 1);
  wcsncat(command, L" serve --config", 12000 - wcslen(command) - 1);
  append_quoted(command, 12000, settings.config);
  wcsncat(command, L" --stop-on-stdin-close", 12000 - wcslen(command) - 1);

  /* Tells the relay to write its Event Log lines ("<4>text") to stderr, for this host to report,
     and which account to keep in the ACL of the secret files it writes (src/core/windows-file-acl.ts). */
  SetEnvironmentVariableW(L"SMTP_OAUTH_RELAY_SERVICE_HOST", L"1");
  wchar_t account_sid[256];
  if (own_account_sid(account_sid, 256)) SetEnvironmentVariableW(L"SMTP_OAUTH_RELAY_ACCOUNT_SID", account_sid);
  STARTUPINFOW startup;
  ZeroMemory(&startup, sizeof startup);
  startup.cb = sizeof startup;
  startup.dwFlags = STARTF_USESTDHANDLES;
  startup.hStdInput = in_read;
  startup.hStdOutput = out_write;
  startup.hStdError = err_write;
  PROCESS_INFORMATION info;
  wchar_t cwd[MAX_PATH * 2];
  wcsncpy(cwd, settings.data_dir, MAX_PATH * 2 - 1);
  if (GetFileAttributesW(cwd) == INVALID_FILE_ATTRIBUTES) own_folder(cwd, MAX_PATH * 2);
  log_host("info", command);
  BOOL ok = CreateProcessW(NULL, command, NULL, NULL, TRUE, CREATE_NO_WINDOW, NULL, cwd, &startup, &info);
  DWORD error = GetLastError();
  CloseHandle(in_read);
  CloseHandle(out_write);
  CloseHandle(err_write);
  if (!ok) {
    CloseHandle(in_write);
    CloseHandle(out_read);
    CloseHandle(err_read);
    SetLastError(error);
    return FALSE;
  }
  CloseHandle(info.hThread);
  child->process = info.hProcess;
  child->stdin_write = in_write;
  child->readers[0] = start_reader(out_read, FALSE);
  child->readers[1] = start_reader(err_read, TRUE);
  child->started_at = GetTickCount64();
  return TRUE;
}

static void finish_child(child_t *child) {
  /* The pipes close when the child is gone; the readers then drain what is left. */
  WaitForMultipleObjects(2, child->readers, TRUE, 5000);
  CloseHandle(child->readers[0]);
  CloseHandle(child->readers[1]);
  if (child->stdin_write != NULL) CloseHandle(child->stdin_write);
  CloseHandle(child->process);
}

static void stderr_summary(wchar_t *out, size_t chars) {
  char joined[TAIL_LINES * TAIL_CHARS + TAIL_LINES] = "";
  EnterCriticalSection(&log_lock);
  for (int i = 0; i < TAIL_LINES; i++) {
    const char *line = stderr_tail[(tail_next + i) % TAIL_LINES];
    if (line[0] == 0) continue;
    strcat(joined, line);
    strcat(joined, "\n");
    memset(stderr_tail[(tail_next + i) % TAIL_LINES], 0, TAIL_CHARS);
  }
  LeaveCriticalSection(&log_lock);
  int n = MultiByteToWideChar(CP_UTF8, 0, joined, -1, out, (int)chars);
  if (n <= 0) out[0] = 0;
}

/* Graceful: stdin closed, then the bounded wait with checkpoints, then TerminateProcess. */
static void stop_child(child_t *child) {
  CloseHandle(child->stdin_write);
  child->stdin_write = NULL;
  ULONGLONG deadline = GetTickCount64() + settings.stop_timeout_ms;
  while (WaitForSingleObject(child->process, 1000) == WAIT_TIMEOUT) {
    if (GetTickCount64() >= deadline) {
      report(EVENTLOG_WARNING_TYPE, L"the relay did not stop within %lu s; ending it (acknowledged messages stay queued)", settings.stop_timeout_ms / 1000);
      TerminateProcess(child->process, 1);
      WaitForSingleObject(child->process, 5000);
      break;
    }
    set_state(SERVICE_STOP_PENDING, 3000);
  }
}

/* Runs the child until a stop; returns the service-specific exit code (0: stopped as asked). */
static DWORD supervise(void) {
  size_t failures = 0;
  for (;;) {
    child_t child = { 0 };
    ResetEvent(started_event);
    if (!start_child(&child)) {
      DWORD error = GetLastError();
      report(EVENTLOG_ERROR_TYPE, L"could not start the relay (%ls): Windows error %lu", settings.child, error);
      status.dwWin32ExitCode = error;
      return 0;
    }
    HANDLE waits[3] = { stop_event, child.process, started_event };
    DWORD waited = 0;
    for (;;) {
      BOOL starting = status.dwCurrentState == SERVICE_START_PENDING;
      DWORD which = WaitForMultipleObjects(starting ? 3 : 2, waits, FALSE, starting ? 1000 : INFINITE);
      if (which == WAIT_OBJECT_0) break; /* stop asked */
      if (which == WAIT_OBJECT_0 + 1) break; /* the child ended */
      if (which == WAIT_OBJECT_0 + 2 || waited >= START_WAIT_MS) { set_state(SERVICE_RUNNING, 0); continue; }
      waited += 1000;
      set_state(SERVICE_START_PENDING, 5000);
    }
    if (WaitForSingleObject(stop_event, 0) == WAIT_OBJECT_0) {
      set_state(SERVICE_STOP_PENDING, 5000);
      stop_child(&child);
      DWORD code = 0;
      GetExitCodeProcess(child.process, &code);
      finish_child(&child);
      report(EVENTLOG_INFORMATION_TYPE, L"the relay stopped (exit code %lu)", code);
      return 0;
    }

    DWORD code = 1;
    GetExitCodeProcess(child.process, &code);
    ULONGLONG ran = GetTickCount64() - child.started_at;
    finish_child(&child);
    wchar_t tail[TAIL_LINES * TAIL_CHARS];
    stderr_summary(tail, sizeof tail / sizeof tail[0]);
    if (code == EXIT_CONFIG) {
      report(EVENTLOG_ERROR_TYPE, L"the relay stopped: its configuration %ls is wrong (exit code 78). Fix it, then start the service again.\n%ls", settings.config, tail);
      return code;
    }
    if (ran >= HEALTHY_RUN_MS) failures = 0;
    size_t count = sizeof restart_delays_ms / sizeof restart_delays_ms[0];
    DWORD delay = restart_delays_ms[failures < count ? failures : count - 1];
    failures++;
    report(EVENTLOG_ERROR_TYPE, L"the relay exited unexpectedly (exit code %lu, 0x%08lx); restarting it in %lu s (attempt %zu).\n%ls", code, code, delay / 1000, failures, tail);
    /* Still RUNNING to the SCM while the host restarts the relay: a stop during the wait is honoured. */
    if (WaitForSingleObject(stop_event, delay) == WAIT_OBJECT_0) return 0;
  }
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv) {
  (void)argc; (void)argv;
  status_handle = RegisterServiceCtrlHandlerExW(SERVICE_NAME, control_handler, NULL);
  if (status_handle == NULL) return;
  status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  set_state(SERVICE_START_PENDING, 5000);
  open_log_file();
  DWORD code = supervise();
  if (code != 0) {
    status.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
    status.dwServiceSpecificExitCode = code;
  }
  if (event_source != NULL) DeregisterEventSource(event_source);
  set_state(SERVICE_STOPPED, 0);
}

/* ---------- installer modes ---------- */

/* NT SERVICE\<name> is S-1-5-80 followed by the SHA-1 of the upper-cased name in UTF-16LE, as five
   little-endian subauthorities (the service SID, "Service Security and Access Rights", Microsoft Learn). */
static BOOL service_sid(wchar_t *out, size_t chars) {
  wchar_t upper[64];
  wcsncpy(upper, SERVICE_NAME, 63);
  upper[63] = 0;
  CharUpperW(upper);
  HCRYPTPROV provider;
  HCRYPTHASH hash;
  BYTE digest[20];
  DWORD length = sizeof digest;
  if (!CryptAcquireContextW(&provider, NULL, NULL, PROV_RSA_FULL, CRYPT_VERIFYCONTEXT)) return FALSE;
  BOOL ok = CryptCreateHash(provider, CALG_SHA1, 0, 0, &hash) && CryptHashData(hash, (const BYTE *)upper, (DWORD)(wcslen(upper) * sizeof(wchar_t)), 0) &&
            CryptGetHashParam(hash, HP_HASHVAL, digest, &length, 0);
  CryptDestroyHash(hash);
  CryptReleaseContext(provider, 0);
  if (!ok) return FALSE;
  DWORD sub[5];
  memcpy(sub, digest, sizeof sub);
  _snwprintf(out, chars, L"S-1-5-80-%lu-%lu-%lu-%lu-%lu", sub[0], sub[1], sub[2], sub[3], sub[4]);
  return TRUE;
}

/* Owner Administrators; DACL protected (nothing inherited from %ProgramData%, where Users may read and
   create), full control for SYSTEM, Administrators and the service's virtual account, inherited below. */
static BOOL account_sid(const wchar_t *name, wchar_t *out, size_t chars) {
  BYTE sid[SECURITY_MAX_SID_SIZE];
  DWORD sid_size = sizeof sid, domain_size = 256;
  wchar_t domain[256];
  SID_NAME_USE use;
  if (!LookupAccountNameW(NULL, name, sid, &sid_size, domain, &domain_size, &use)) return FALSE;
  LPWSTR text;
  if (!ConvertSidToStringSidW(sid, &text)) return FALSE;
  wcsncpy(out, text, chars - 1);
  out[chars - 1] = 0;
  LocalFree(text);
  return TRUE;
}

static BOOL folder_descriptor(PSECURITY_DESCRIPTOR *descriptor) {
  wchar_t sid[128], sddl[512];
  if (settings.account[0] != 0 ? !account_sid(settings.account, sid, 128) : !service_sid(sid, 128)) {
    fwprintf(stderr, L"no such account: %ls\n", settings.account[0] != 0 ? settings.account : L"NT SERVICE\\" SERVICE_NAME);
    return FALSE;
  }
  _snwprintf(sddl, 512, L"O:BAD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;%ls)", sid);
  return ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, descriptor, NULL);
}

static BOOL secure_folder(const wchar_t *path, PSECURITY_DESCRIPTOR descriptor) {
  SECURITY_ATTRIBUTES attributes = { sizeof attributes, descriptor, FALSE };
  if (CreateDirectoryW(path, &attributes)) { wprintf(L"created %ls with its ACL\n", path); return TRUE; }
  if (GetLastError() != ERROR_ALREADY_EXISTS) { fwprintf(stderr, L"cannot create %ls: Windows error %lu\n", path, GetLastError()); return FALSE; }
  /* It was there already (an upgrade, or someone made it first): take it over and replace its ACL. */
  BOOL present, defaulted;
  PACL dacl;
  PSID owner;
  GetSecurityDescriptorDacl(descriptor, &present, &dacl, &defaulted);
  GetSecurityDescriptorOwner(descriptor, &owner, &defaulted);
  DWORD error = SetNamedSecurityInfoW((LPWSTR)path, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, owner, NULL, dacl, NULL);
  if (error != ERROR_SUCCESS) { fwprintf(stderr, L"cannot set the ACL of %ls: Windows error %lu\n", path, error); return FALSE; }
  wprintf(L"set the ACL of %ls\n", path);
  return TRUE;
}

/* Restart after 10 s, 30 s, then every 2 min; the count resets after a day without failure. Best effort:
   printed, not fatal (Wine accepts and forgets them; the self-check reads them back on Windows). */
static void set_recovery_actions(void) {
  SC_HANDLE manager = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
  SC_HANDLE service = manager == NULL ? NULL : OpenServiceW(manager, SERVICE_NAME, SERVICE_CHANGE_CONFIG | SERVICE_START);
  if (service == NULL) { wprintf(L"service %ls not registered yet: recovery actions not set\n", SERVICE_NAME); if (manager) CloseServiceHandle(manager); return; }
  SC_ACTION actions[3] = { { SC_ACTION_RESTART, 10000 }, { SC_ACTION_RESTART, 30000 }, { SC_ACTION_RESTART, 120000 } };
  SERVICE_FAILURE_ACTIONSW failure = { 86400, NULL, NULL, 3, actions };
  if (ChangeServiceConfig2W(service, SERVICE_CONFIG_FAILURE_ACTIONS, &failure)) wprintf(L"recovery actions set: restart after 10 s, 30 s, 120 s\n");
  else wprintf(L"could not set the recovery actions: Windows error %lu\n", GetLastError());
  /* The service's own SID in its token: what the virtual account NT SERVICE\<name> is made of. */
  SERVICE_SID_INFO sid_info = { SERVICE_SID_TYPE_UNRESTRICTED };
  if (ChangeServiceConfig2W(service, SERVICE_CONFIG_SERVICE_SID_INFO, &sid_info)) wprintf(L"service SID type: unrestricted\n");
  else wprintf(L"could not set the service SID type: Windows error %lu\n", GetLastError());
  CloseServiceHandle(service);
  CloseServiceHandle(manager);
}

static int prepare(int argc, wchar_t **argv) {
  load_settings(argc, argv, 2);
  wchar_t base[MAX_PATH * 2];
  program_data_folder(base, MAX_PATH * 2);
  PSECURITY_DESCRIPTOR descriptor;
  if (!folder_descriptor(&descriptor)) { fwprintf(stderr, L"cannot build the folder ACL: Windows error %lu\n", GetLastError()); return 1; }
  BOOL ok = secure_folder(base, descriptor);
  /* Inside the product folder the data folder inherits; elsewhere it gets the same ACL of its own. */
  size_t base_length = wcslen(base);
  BOOL inside = _wcsnicmp(settings.data_dir, base, base_length) == 0 && settings.data_dir[base_length] == L'\\';
  if (ok && inside) { SECURITY_ATTRIBUTES none = { sizeof none, NULL, FALSE }; CreateDirectoryW(settings.data_dir, &none); }
  else if (ok) ok = secure_folder(settings.data_dir, descriptor);
  LocalFree(descriptor);
  set_recovery_actions();
  return ok ? 0 : 1;
}

static int show_acl(const wchar_t *path) {
  PSECURITY_DESCRIPTOR descriptor;
  DWORD error = GetNamedSecurityInfoW(path, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, NULL, NULL, NULL, NULL, &descriptor);
  if (error != ERROR_SUCCESS) { fwprintf(stderr, L"cannot read the ACL of %ls: Windows error %lu\n", path, error); return 1; }
  LPWSTR sddl;
  if (!ConvertSecurityDescriptorToStringSecurityDescriptorW(descriptor, SDDL_REVISION_1, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &sddl, NULL)) return 1;
  wprintf(L"%ls\n", sddl);
  LocalFree(sddl);
  LocalFree(descriptor);
  return 0;
}

static int event_log(const wchar_t *level, const wchar_t *text) {
  WORD type = wcscmp(level, L"error") == 0 ? EVENTLOG_ERROR_TYPE : wcscmp(level, L"warn") == 0 ? EVENTLOG_WARNING_TYPE : EVENTLOG_INFORMATION_TYPE;
  report_event(type, type == EVENTLOG_ERROR_TYPE ? EVENT_ERROR : type == EVENTLOG_WARNING_TYPE ? EVENT_WARN : EVENT_INFO, text);
  return event_source == NULL ? 1 : 0;
}

int wmain(int argc, wchar_t **argv) {
  InitializeCriticalSection(&log_lock);
  if (argc >= 2 && wcscmp(argv[1], L"prepare") == 0) return prepare(argc, argv);
  if (argc >= 3 && wcscmp(argv[1], L"show-acl") == 0) return show_acl(argv[2]);
  if (argc >= 4 && wcscmp(argv[1], L"event-log") == 0) return event_log(argv[2], argv[3]);
  if (argc >= 2 && wcscmp(argv[1], L"service-sid") == 0) {
    wchar_t sid[128];
    if (!service_sid(sid, 128)) return 1;
    wprintf(L"%ls\n", sid);
    return 0;
  }
  load_settings(argc, argv, 1);
  stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  started_event = CreateEventW(NULL, TRUE, FALSE, NULL);
  SERVICE_TABLE_ENTRYW table[] = { { SERVICE_NAME, service_main }, { NULL, NULL } };
  if (StartServiceCtrlDispatcherW(table)) return 0;
  if (GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
    fwprintf(stderr, L"smtp-oauth-relay-service.exe is started by the Service Control Manager (net start smtp-oauth-relay).\n"
                     L"Usage: smtp-oauth-relay-service.exe [--config FILE] [--data-dir DIR] [--stop-timeout SECONDS] [-- PROGRAM ARGS...]\n"
                     L"       smtp-oauth-relay-service.exe prepare | show-acl PATH | event-log info|warn|error TEXT | service-sid\n");
    return 2;
  }
  return 1;
}
