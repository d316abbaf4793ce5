<#
.SYNOPSIS
  smtp-oauth-relay: the checks only a real Windows server can answer. Run once after installing,
  in an elevated Windows PowerShell (5.1 or later):
    powershell -ExecutionPolicy Bypass -File "C:\Program Files\smtp-oauth-relay\self-check.ps1"
  Each line says PASS, WARN or FAIL; a FAIL says what to fix. Exit code 1 when anything failed.

.DESCRIPTION
  Wine, where the project's tests run the service, has one user and stores no ACLs, no service SID
  types, no recovery actions and no real Event Log (docs/windows-service.md). This script checks
  those on the server: the service and its virtual account, the account's SID type, the recovery
  actions, the Event Log source (an event is written and read back), the ACL of the product and
  data folders and of every file that holds a secret, the control pipe's DACL, and the virtual
  account's own credential store.
#>
[CmdletBinding()]
param(
  [string]$ServiceName = 'smtp-oauth-relay'
)
Set-StrictMode -Version 2
$ErrorActionPreference = 'Stop'

$script:failed = 0
function Report([string]$Status, [string]$Check, [string]$Finding, [string]$Fix = '') {
  if ($Status -eq 'FAIL') { $script:failed += 1 }
  $line = "[{0}] {1}: {2}" -f $Status, $Check, $Finding
  if ($Fix -ne '') { $line += "`n       fix: $Fix" }
  Write-Output $line
}

# Well-known SIDs: SYSTEM, Administrators; the accounts that must never read a secret.
$SystemSid = 'S-1-5-18'
$AdminsSid = 'S-1-5-32-544'
$ForbiddenSids = @{ 'S-1-1-0' = 'Everyone'; 'S-1-5-11' = 'Authenticated Users'; 'S-1-5-32-545' = 'Users'; 'S-1-5-7' = 'Anonymous'; 'S-1-5-4' = 'Interactive' }

# NT SERVICE\<name>: S-1-5-80 and the SHA-1 of the upper-cased name in UTF-16LE (what `sc showsid` prints).
function Get-ServiceSid([string]$Name) {
  $sha1 = [System.Security.Cryptography.SHA1]::Create()
  $digest = $sha1.ComputeHash([System.Text.Encoding]::Unicode.GetBytes($Name.ToUpperInvariant()))
  $parts = 0..4 | ForEach-Object { [BitConverter]::ToUInt32($digest, $_ * 4) }
  return 'S-1-5-80-' + ($parts -join '-')
}

function Get-Sid([string]$Account) {
  try { return (New-Object System.Security.Principal.NTAccount($Account)).Translate([System.Security.Principal.SecurityIdentifier]).Value } catch { return $null }
}

# An ACL is right when it is protected (nothing inherited from above the product folder, unless
# $InheritOk) and grants only SYSTEM, Administrators and the service account.
function Test-Acl([string]$Check, [string]$Path, [string[]]$Allowed, [switch]$InheritOk) {
  if (-not (Test-Path -LiteralPath $Path)) { Report 'WARN' $Check "$Path does not exist yet"; return }
  $acl = Get-Acl -LiteralPath $Path
  $problems = @()
  if (-not $InheritOk -and -not $acl.AreAccessRulesProtected) { $problems += 'inherits permissions from its parent' }
  foreach ($rule in $acl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
    if ($rule.AccessControlType -ne 'Allow') { continue }
    $sid = $rule.IdentityReference.Value
    if ($Allowed -notcontains $sid) {
      $name = if ($ForbiddenSids.ContainsKey($sid)) { $ForbiddenSids[$sid] } else { $sid }
      $problems += "grants $($rule.FileSystemRights) to $name"
    }
  }
  if ($problems.Count -eq 0) { Report 'PASS' $Check "${Path}: only SYSTEM, Administrators and the service account" }
  else { Report 'FAIL' $Check "$Path $($problems -join '; ')" "run `"$HostExe`" prepare (folders), or restart the service so the relay rewrites its files; or icacls `"$Path`" /inheritance:r /grant:r *$SystemSid`:(F) *$AdminsSid`:(F) *$($Allowed[2])`:(F)" }
}

# 1. Elevated?
$principal = New-Object System.Security.Principal.WindowsPrincipal([System.Security.Principal.WindowsIdentity]::GetCurrent())
if ($principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)) { Report 'PASS' 'elevated' 'running as an administrator' }
else { Report 'FAIL' 'elevated' 'not elevated: ACLs and the service configuration cannot be read' 'open PowerShell with "Run as administrator" and run this again'; exit 1 }

# 2. The service, its binary and its account.
$service = Get-CimInstance Win32_Service -Filter "Name='$ServiceName'"
if ($null -eq $service) { Report 'FAIL' 'service' "no service named $ServiceName" 'install the MSI, or run: smtp-oauth-relay service install'; exit 1 }
$HostExe = if ($service.PathName -match '^"([^"]+)"') { $Matches[1] } else { ($service.PathName -split ' ')[0] }
if ((Split-Path -Leaf $HostExe) -ieq 'smtp-oauth-relay-service.exe' -and (Test-Path -LiteralPath $HostExe)) { Report 'PASS' 'service-binary' $service.PathName }
else { Report 'FAIL' 'service-binary' "binPath is $($service.PathName)" 'reinstall: the service must run smtp-oauth-relay-service.exe' }
$ReleaseDir = Split-Path -Parent $HostExe
$RelayExe = Join-Path $ReleaseDir 'smtp-oauth-relay.exe'

$serviceSid = Get-ServiceSid $ServiceName
$account = $service.StartName
if ($account -ieq "NT SERVICE\$ServiceName") { Report 'PASS' 'service-account' "runs as the virtual account $account ($serviceSid)"; $accountSid = $serviceSid }
else {
  Report 'WARN' 'service-account' "runs as $account, not NT SERVICE\$ServiceName" 'the virtual account has its own credential store and no power over the machine: smtp-oauth-relay service install (default account)'
  $accountSid = Get-Sid $account
  if ($null -eq $accountSid) { $accountSid = $serviceSid }
}
if ($service.StartMode -eq 'Auto') { Report 'PASS' 'start-mode' 'starts with Windows' } else { Report 'WARN' 'start-mode' "start mode $($service.StartMode)" "sc.exe config $ServiceName start= auto" }
if ($service.State -eq 'Running') { Report 'PASS' 'state' 'running' }
else { Report 'FAIL' 'state' "$($service.State) (exit code $($service.ExitCode), service-specific $($service.ServiceSpecificExitCode))" "net start $ServiceName; the reason of a failed start is in the Application event log, source $ServiceName" }

# 3. SID type and recovery actions (Wine accepts and forgets both).
$sidType = (& sc.exe qsidtype $ServiceName) -join "`n"
if ($sidType -match 'UNRESTRICTED') { Report 'PASS' 'sid-type' 'service SID type unrestricted' }
elseif ($account -ieq "NT SERVICE\$ServiceName") { Report 'FAIL' 'sid-type' 'the service SID type is not unrestricted' "sc.exe sidtype $ServiceName unrestricted" }
else { Report 'PASS' 'sid-type' 'not needed for this account' }
$failure = (& sc.exe qfailure $ServiceName) -join "`n"
$restarts = ([regex]::Matches($failure, 'RESTART')).Count
if ($restarts -ge 1) { Report 'PASS' 'recovery' "the SCM restarts the service after a failure ($restarts restart actions)" }
else { Report 'FAIL' 'recovery' 'no restart action after a failure' "sc.exe failure $ServiceName reset= 86400 actions= restart/10000/restart/30000/restart/120000" }

# 4. The Event Log source: registered, its message file there, and an event written and read back.
$sourceKey = "HKLM:\SYSTEM\CurrentControlSet\Services\EventLog\Application\$ServiceName"
$messageFile = (Get-ItemProperty -LiteralPath $sourceKey -Name EventMessageFile -ErrorAction SilentlyContinue).EventMessageFile
if ($null -eq $messageFile) { Report 'FAIL' 'event-source' "no source $ServiceName in the Application log" "install the MSI again, or: smtp-oauth-relay service install" }
elseif (-not (Test-Path -LiteralPath ([Environment]::ExpandEnvironmentVariables($messageFile)))) { Report 'FAIL' 'event-source' "EventMessageFile $messageFile is missing" 'install the MSI again' }
else {
  $marker = "self-check " + [guid]::NewGuid().ToString()
  $since = (Get-Date).AddSeconds(-5)
  & $HostExe event-log info $marker | Out-Null
  Start-Sleep -Seconds 2
  $event = Get-WinEvent -FilterHashtable @{ LogName = 'Application'; ProviderName = $ServiceName; StartTime = $since } -ErrorAction SilentlyContinue | Where-Object { $_.Message -like "*$marker*" } | Select-Object -First 1
  if ($null -ne $event) { Report 'PASS' 'event-log' "an event written through the source reads back with its text (id $($event.Id))" }
  else { Report 'FAIL' 'event-log' 'an event written through the source did not read back with its text' "check $messageFile holds the message table (windows/build-service-host.sh builds it in)" }
}

# 5. Folders and secret files.
$settings = Get-ItemProperty -LiteralPath "HKLM:\SOFTWARE\$ServiceName" -ErrorAction SilentlyContinue
$productDir = Join-Path $env:ProgramData $ServiceName
$dataDir = if ($null -ne $settings -and $settings.PSObject.Properties['DataDir']) { $settings.DataDir } else { Join-Path $productDir 'data' }
$configFile = if ($null -ne $settings -and $settings.PSObject.Properties['ConfigFile']) { $settings.ConfigFile } else { Join-Path $productDir 'relay.json' }
$allowed = @($SystemSid, $AdminsSid, $accountSid)
Test-Acl 'product-folder-acl' $productDir $allowed
$dataInside = $dataDir.StartsWith($productDir + '\', [StringComparison]::OrdinalIgnoreCase)
if ($dataInside) { Test-Acl 'data-folder-acl' $dataDir $allowed -InheritOk } else { Test-Acl 'data-folder-acl' $dataDir $allowed }
Test-Acl 'config-acl' $configFile $allowed -InheritOk
$owner = (Get-Acl -LiteralPath $productDir -ErrorAction SilentlyContinue)
if ($null -ne $owner) {
  $ownerSid = (New-Object System.Security.Principal.NTAccount($owner.Owner)).Translate([System.Security.Principal.SecurityIdentifier]).Value
  if (@($SystemSid, $AdminsSid) -contains $ownerSid) { Report 'PASS' 'product-folder-owner' "owned by $($owner.Owner)" }
  else { Report 'FAIL' 'product-folder-owner' "owned by $($owner.Owner), who can change its permissions" "`"$HostExe`" prepare   (takes it over for Administrators)" }
}
$secretFiles = @()
foreach ($pattern in @('secrets\*.sealed', 'tokens\*.sealed', 'keys\*.key', 'users.json')) {
  $secretFiles += Get-ChildItem -Path (Join-Path $dataDir $pattern) -File -ErrorAction SilentlyContinue
}
if ($secretFiles.Count -eq 0) { Report 'WARN' 'secret-files' "no secret file under $dataDir yet" 'run this again after smtp-oauth-relay secret set / login' }
foreach ($file in $secretFiles) { Test-Acl 'secret-file-acl' $file.FullName $allowed }

# 6. The control pipe: administrators and the service may write to it, nobody else.
$pipes = [System.IO.Directory]::GetFiles('\\.\pipe\') | Where-Object { (Split-Path -Leaf $_) -like "$ServiceName-*" }
if (@($pipes).Count -eq 0) { Report 'FAIL' 'pipe' 'no control pipe (is the relay running?)' "net start $ServiceName" }
foreach ($pipe in @($pipes)) {
  try {
    $pipeAcl = Get-Acl -LiteralPath $pipe
    $writers = @()
    foreach ($rule in $pipeAcl.GetAccessRules($true, $true, [System.Security.Principal.SecurityIdentifier])) {
      $sid = $rule.IdentityReference.Value
      $canWrite = ($rule.FileSystemRights -band [System.Security.AccessControl.FileSystemRights]::WriteData) -ne 0
      if ($rule.AccessControlType -eq 'Allow' -and $canWrite -and $allowed -notcontains $sid) { $writers += $(if ($ForbiddenSids.ContainsKey($sid)) { $ForbiddenSids[$sid] } else { $sid }) }
    }
    if ($writers.Count -eq 0) { Report 'PASS' 'pipe-dacl' "${pipe}: only SYSTEM, Administrators and the service account can send commands" }
    else { Report 'FAIL' 'pipe-dacl' "$pipe can be written by $($writers -join ', ')" 'report this: the control channel must refuse other accounts' }
  } catch { Report 'WARN' 'pipe-dacl' "cannot read the DACL of $pipe ($($_.Exception.Message))" }
}

# 7. The virtual account's own credential store (Credential Manager is per account).
if (Test-Path -LiteralPath $RelayExe) {
  $status = & $RelayExe status --config $configFile 2>&1
  if ($LASTEXITCODE -eq 0) { Report 'PASS' 'control-channel' 'smtp-oauth-relay status reached the running service' }
  else { Report 'FAIL' 'control-channel' (($status | Select-Object -First 2) -join ' ') "net start $ServiceName, then smtp-oauth-relay status" }
}
$profileDir = Join-Path $env:SystemRoot "ServiceProfiles\$ServiceName"
$credentials = @(Get-ChildItem -Path (Join-Path $profileDir 'AppData\*\Microsoft\Credentials\*') -File -Force -ErrorAction SilentlyContinue)
if (-not (Test-Path -LiteralPath $profileDir)) { Report 'WARN' 'credential-store' "no profile $profileDir yet (the virtual account has not logged on)" "net start $ServiceName" }
elseif ($credentials.Count -gt 0) { Report 'PASS' 'credential-store' "the service account's own Credential Manager holds $($credentials.Count) credential file(s) ($profileDir)" }
else { Report 'WARN' 'credential-store' "the service account's Credential Manager is empty" 'store the secret through the service (smtp-oauth-relay secret set / login while it runs), never in your own session' }

if ($script:failed -gt 0) { Write-Output "$($script:failed) check(s) failed."; exit 1 }
Write-Output 'All checks passed.'
exit 0
