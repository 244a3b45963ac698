@echo off
rem datasync-agent start script for Windows: the counterpart of the classic agent's startup.bat,
rem in the release archive (npm run dist) next to config\ and node_modules\. It runs the agent
rem with config\application.yaml from this folder:
rem
rem   startup.bat                     run; Ctrl+C stops it (requests drain first)
rem   startup.bat check               test the configuration, the data sources and the hub URLs
rem   startup.bat check --offline     only decode the configuration
rem   startup.bat --config C:\ProgramData\datasync-agent\application.yaml
rem
rem Every argument goes to datasync-agent (a --config given here wins over the default one).
rem Node.js 20 or later: %DATASYNC_NODE% if set, else node\node.exe in this folder (a Node.js
rem runtime unpacked there), else node.exe on the PATH. Exit codes are the agent's: 0 stopped,
rem 1 failure, 2 invalid configuration; 127 when no suitable Node.js is found.
rem As a Windows service, run node.exe itself, not this script: see windows-service.md.
setlocal
set "HERE=%~dp0"
set "HERE=%HERE:~0,-1%"
set "NODE_EXE=%DATASYNC_NODE%"
if not defined NODE_EXE if exist "%HERE%\node\node.exe" set "NODE_EXE=%HERE%\node\node.exe"
if not defined NODE_EXE set "NODE_EXE=node.exe"
"%NODE_EXE%" -e "process.exit(Number(process.versions.node.split('.')[0]) >= 20 ? 0 : 1)" >nul 2>&1
if errorlevel 1 goto nonode
"%NODE_EXE%" "%HERE%\node_modules\datasync-agent\dist\src\cli\agent.js" --config "%HERE%\config\application.yaml" %*
exit /b %ERRORLEVEL%

:nonode
echo datasync-agent: "%NODE_EXE%" is not Node.js 20 or later. Install it, or set DATASYNC_NODE to its node.exe. 1>&2
exit /b 127
