<#
.SYNOPSIS
    ExeGPT.NET build entry point for Windows: a thin mirror of build.sh.
.DESCRIPTION
    ./build.ps1 [setup|build|test|run|bench|bindings [--check]|publish|clean|help] [args...]   (default: build)
    Native dependencies (OpenBLAS, nlohmann-json, GoogleTest) must be findable by CMake, e.g. through vcpkg:
    set VCPKG_ROOT and run `vcpkg install openblas nlohmann-json gtest`. Extra CMake options: $env:EXEGPT_CMAKE_ARGS.
#>
param([string]$Command = 'build')
# Everything after the command ($args) is passed through, as in build.sh. A plain (not advanced) script
# keeps `--check` and the CLI's options out of PowerShell's own parameter binding.

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Set-Location $PSScriptRoot

$Config = 'Release'
$Sln = 'ExeGPT.Native.sln'
$NativeBuild = 'build/native'
$NativeOut = 'artifacts/native'        # CMake copies the native library here (native/CMakeLists.txt)
$BinDir = 'artifacts/bin'
$Rid = 'win-x64'
$PublishDir = "artifacts/publish/$Rid"
$ResultsDir = 'build/test-results'
$CliProject = 'src/ExeGPT.Cli'
$TestProject = 'tests/ExeGPT.Tests'
$PlanningTestProject = 'tests/ExeGPT.Planning.Tests'
$GeneratorProject = 'bindings/generator/ExeGPT.BindingsGenerator'
$NativeDll = "$NativeOut/exegpt.dll"
# The CLI assembly is also named exegpt.dll, so the native library cannot sit beside it: it goes to
# runtimes/<rid>/native and the loader is pointed at it through EXEGPT_NATIVE_PATH.
$NativeSubdir = "runtimes/$Rid/native"

$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

function Write-Step([string]$Message) { Write-Host "==> $Message" }

# Runs a native command and stops the script when it fails ($ErrorActionPreference does not cover exit codes).
function Invoke-Checked([scriptblock]$Block) {
    & $Block
    if ($LASTEXITCODE -ne 0) { throw "command failed (exit code $LASTEXITCODE): $Block" }
}

function Show-Usage {
    Write-Host @"
usage: ./build.ps1 [command] [args...]
  setup | build (default) | test | run [run args] | generate [args] | bench [args] | bindings [--check] | publish | clean
  (the same commands as ./build.sh; see README.md)
"@
}

# ---------------------------------------------------------------------------------------------------

function Assert-Tools {
    foreach ($tool in 'cmake', 'dotnet') {
        if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) {
            throw "'$tool' is not on PATH. Install CMake (https://cmake.org/download/) with Visual Studio's C++ workload, and the .NET 10 SDK (https://dotnet.microsoft.com/download/dotnet/10.0)."
        }
    }
    $sdks = @(dotnet --list-sdks | Where-Object { [int]($_.Split('.')[0]) -ge 10 })
    if ($sdks.Count -eq 0) { throw 'the .NET 10 SDK is required: https://dotnet.microsoft.com/download/dotnet/10.0' }
}

function Invoke-Setup {
    Assert-Tools
    Invoke-Checked { dotnet restore $Sln }
}

function Build-Native {
    Write-Step "native engine ($NativeBuild)"
    # The CUDA backend (libexegpt_cuda.so, loaded with dlopen) is Linux-only: ./build.sh builds it there.
    Write-Step 'CUDA backend: skipped on Windows (build.sh compiles it on Linux)'
    $cmakeArgs = @('-S', 'native', '-B', $NativeBuild, "-DCMAKE_BUILD_TYPE=$Config", '-DEXEGPT_CUDA=OFF')
    if ($env:VCPKG_ROOT) { $cmakeArgs += "-DCMAKE_TOOLCHAIN_FILE=$env:VCPKG_ROOT/scripts/buildsystems/vcpkg.cmake" }
    if ($env:EXEGPT_CMAKE_ARGS) { $cmakeArgs += $env:EXEGPT_CMAKE_ARGS -split '\s+' }
    Invoke-Checked { cmake @cmakeArgs }
    # --config matters for the default (multi-config Visual Studio) generator; single-config ones ignore it.
    Invoke-Checked { cmake --build $NativeBuild --config $Config --parallel }
    if (-not (Test-Path $NativeDll)) { throw "the native build did not produce $NativeDll" }
    $env:EXEGPT_NATIVE_PATH = (Resolve-Path $NativeDll).Path
}

function Copy-Native([string]$Destination) {
    $dir = Join-Path $Destination $NativeSubdir
    New-Item -ItemType Directory -Force -Path $dir | Out-Null
    Copy-Item "$NativeOut/*.dll" $dir -Force
}

function Invoke-Build {
    Invoke-Setup
    Build-Native
    Write-Step "managed solution ($Sln)"
    Invoke-Checked { dotnet build $Sln -c $Config --no-restore }
    Invoke-Checked { dotnet publish $CliProject -c $Config --no-build -o $BinDir }
    Copy-Native $BinDir
    Write-Host "==> built:"
    Write-Host "    native library   $NativeDll"
    Write-Host "    native tests     ctest --test-dir $NativeBuild -C $Config"
    Write-Host "    CLI              $BinDir/exegpt.exe   (set EXEGPT_NATIVE_PATH=$BinDir/$NativeSubdir, or ./build.ps1 run)"
}

# ---------------------------------------------------------------------------------------------------

# Same rules as build.sh: a CTest "notrun" is skipped only when a skip rule said so.
function Get-CTestCounts([string]$Path) {
    $c = @{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($case in ([xml](Get-Content -Raw $Path)).SelectNodes('/testsuite/testcase')) {
        switch ($case.GetAttribute('status')) {
            'run' { $c['Passed'] += 1 }
            'disabled' { $c['Skipped'] += 1 }
            'notrun' {
                $skip = $case.SelectSingleNode('skipped')
                if ($skip -and $skip.GetAttribute('message').StartsWith('SKIP_')) { $c['Skipped'] += 1 } else { $c['Failed'] += 1 }
            }
            default { $c['Failed'] += 1 }
        }
    }
    return $c
}

# NUnit's skipped tests are NotExecuted results left out of the counters' "executed": total - passed - failed.
function Get-TrxCounts([string]$Path) {
    $n = ([xml](Get-Content -Raw $Path)).TestRun.ResultSummary.Counters
    $failed = [int]$n.failed + [int]$n.error + [int]$n.timeout + [int]$n.aborted
    return @{ Passed = [int]$n.passed; Failed = $failed; Skipped = [int]$n.total - [int]$n.passed - $failed }
}

# Counts of one test source, printed; $Parser is the name of the function that reads its file.
function Read-Counts([string]$Name, [string]$File, [int]$Rc, [string]$Parser) {
    if (Test-Path $File) {
        $c = & $Parser $File
        if ($Rc -ne 0 -and $c['Failed'] -eq 0) { $c['Failed'] = 1 }
    } else {
        Write-Host "$Name wrote no results ($File)"
        $c = @{ Passed = 0; Failed = 1; Skipped = 0 }
    }
    Write-Host "${Name}: $($c['Passed']) passed, $($c['Failed']) failed, $($c['Skipped']) skipped"
    return $c
}

function Invoke-Test {
    Invoke-Build
    New-Item -ItemType Directory -Force -Path $ResultsDir | Out-Null
    $junit = Join-Path (Resolve-Path $ResultsDir).Path 'ctest.xml'
    $trxName = 'ExeGPT.Tests.trx'
    $trx = Join-Path $ResultsDir $trxName
    Remove-Item -Force -ErrorAction SilentlyContinue $junit, $trx

    Write-Step 'generated bindings are up to date'
    dotnet run --project $GeneratorProject -c $Config --no-build -- --check
    $bindingsOk = $LASTEXITCODE -eq 0

    Write-Step 'native tests (CTest)'
    ctest --test-dir $NativeBuild -C $Config --output-on-failure --parallel $env:NUMBER_OF_PROCESSORS --timeout 600 --output-junit $junit
    $ctestRc = $LASTEXITCODE

    Write-Step 'managed tests (NUnit)'
    dotnet test $TestProject -c $Config --no-build --logger "trx;LogFileName=$trxName" --results-directory $ResultsDir --blame-hang-timeout 10m --blame-hang-dump-type none
    $nunitRc = $LASTEXITCODE

    Write-Step 'planner tests (NUnit: simulator, scheduler)'
    $planningTrxName = 'ExeGPT.Planning.Tests.trx'
    $planningTrx = Join-Path $ResultsDir $planningTrxName
    Remove-Item -Force -ErrorAction SilentlyContinue $planningTrx
    dotnet test $PlanningTestProject -c $Config --no-build --logger "trx;LogFileName=$planningTrxName" --results-directory $ResultsDir --blame-hang-timeout 10m --blame-hang-dump-type none
    $planningRc = $LASTEXITCODE

    # A step that failed without naming a failed test (crash, missing results) counts as one failure.
    $total = @{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($c in (Read-Counts 'CTest' $junit $ctestRc 'Get-CTestCounts'), (Read-Counts 'NUnit' $trx $nunitRc 'Get-TrxCounts'), (Read-Counts 'NUnit (planner)' $planningTrx $planningRc 'Get-TrxCounts')) {
        foreach ($k in 'Passed', 'Failed', 'Skipped') { $total[$k] += $c[$k] }
    }
    if ($bindingsOk) {
        Write-Host 'Bindings check: passed'
        $total['Passed'] += 1
    } else {
        Write-Host 'Bindings check: FAILED (run ./build.ps1 bindings and commit the result)'
        $total['Failed'] += 1
    }
    Write-Host "$($total['Passed']) passed, $($total['Failed']) failed, $($total['Skipped']) skipped"
    if ($total['Failed'] -gt 0) { exit 1 }
}

# ---------------------------------------------------------------------------------------------------

function Test-Given([string[]]$Names, [string[]]$Arguments) {
    foreach ($a in $Arguments) {
        foreach ($n in $Names) { if ($a -eq $n -or $a.StartsWith("$n=")) { return $true } }
    }
    return $false
}

function Invoke-Run([string[]]$Arguments) {
    Invoke-Build
    # The main job (profile -> schedule -> run -> measured next to predicted); its defaults live in the CLI.
    Invoke-Checked { & "$BinDir/exegpt.exe" run @Arguments }
}

function Invoke-Generate([string[]]$Arguments) {
    Invoke-Build
    # Defaults only for what the caller did not choose: a repeated option is an error to the CLI.
    $defaults = @()
    if (-not (Test-Given '--model', '-m' $Arguments)) { $defaults += '--model', 'opt-125m' }
    if (-not (Test-Given '--prompt-tokens', '-p' $Arguments)) { $defaults += '--prompt-tokens', '2,31414,232,328,740,1140,12695,69' }
    if (-not (Test-Given '--max-new-tokens', '-n' $Arguments)) { $defaults += '--max-new-tokens', '16' }
    if (-not (Test-Given '--greedy', '--temperature', '--top-k', '--top-p' $Arguments)) { $defaults += '--greedy' }
    Invoke-Checked { & "$BinDir/exegpt.exe" generate @defaults @Arguments }
}

function Invoke-Bench([string[]]$Arguments) {
    Invoke-Build
    # Multi-config generators put the executable in a per-configuration folder.
    $bench = @("$NativeBuild/bench/$Config/exegpt-bench.exe", "$NativeBuild/bench/exegpt-bench.exe") |
        Where-Object { Test-Path $_ } | Select-Object -First 1
    if (-not $bench) { throw "exegpt-bench was not built under $NativeBuild/bench" }
    # Results are kept per machine unless the caller names the file.
    $out = @()
    if (-not (Test-Given '--out' $Arguments)) { $out = '--out', "bench/results/cpu-$env:COMPUTERNAME.json" }
    New-Item -ItemType Directory -Force -Path 'bench/results' | Out-Null
    Invoke-Checked { & $bench @out @Arguments }
}

function Invoke-Bindings([string[]]$Arguments) {
    Assert-Tools
    Invoke-Checked { dotnet run --project $GeneratorProject -c $Config -- @Arguments }
}

function Invoke-Publish {
    Invoke-Setup
    Build-Native
    Write-Step "self-contained CLI ($PublishDir)"
    Invoke-Checked {
        dotnet publish $CliProject -c $Config -r $Rid --self-contained -p:PublishTrimmed=true -p:PublishSingleFile=true -o $PublishDir
    }
    Copy-Native $PublishDir
    Write-Step "published: $PublishDir/exegpt.exe (set EXEGPT_NATIVE_PATH=<that folder>/$NativeSubdir there)"
}

function Invoke-Clean {
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue 'build', 'artifacts'
    Write-Step 'removed build/ and artifacts/'
}

# ---------------------------------------------------------------------------------------------------

$rest = [string[]]$args
switch ($Command) {
    'setup' { Invoke-Setup }
    'build' { Invoke-Build }
    'test' { Invoke-Test }
    'run' { Invoke-Run $rest }
    'generate' { Invoke-Generate $rest }
    'bench' { Invoke-Bench $rest }
    'bindings' { Invoke-Bindings $rest }
    'publish' { Invoke-Publish }
    'clean' { Invoke-Clean }
    'help' { Show-Usage }
    default { Show-Usage; exit 2 }
}
