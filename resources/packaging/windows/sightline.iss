; Inno Setup script of the Windows installer (built by .github/workflows/installer.yml):
;   iscc /DAppVersion=0.1.0 /DBundle=..\..\..\dist\sightline /DRedist=vc_redist.x64.exe sightline.iss
; Installs the one-folder bundle per machine into Program Files, runs the current Microsoft Visual C++
; runtime installer (Qt's wheels carry an older MSVC runtime; ONNX Runtime needs the current one), adds
; Start-menu entries, including one with software OpenGL for remote desktops and old drivers. Per-user
; data stays in SIGHTLINE_HOME or %USERPROFILE%\.local\share\sightline (engine/paths.py), never here.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef Bundle
  #define Bundle "..\..\..\dist\sightline"
#endif
#ifndef Redist
  #define Redist "vc_redist.x64.exe"
#endif

[Setup]
AppId={{6F1C2B7E-5B8D-4C35-9A43-1D2E7C9B5A10}
AppName=Sightline
AppVersion={#AppVersion}
AppPublisher=Sightline maintainers
DefaultDirName={autopf}\Sightline
DefaultGroupName=Sightline
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequired=admin
OutputDir=..\..\..\dist
OutputBaseFilename=Sightline-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
InfoBeforeFile=notice.txt
UninstallDisplayIcon={app}\Sightline.exe

[Files]
Source: "{#Bundle}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "{#Redist}"; DestDir: "{tmp}"; Flags: deleteafterinstall

[Icons]
Name: "{group}\Sightline"; Filename: "{app}\Sightline.exe"
Name: "{group}\Sightline (software rendering)"; Filename: "{cmd}"; \
  Parameters: "/c set SIGHTLINE_SOFTWARE_RENDERING=1 && start """" ""{app}\Sightline.exe"""; \
  WorkingDir: "{app}"; IconFilename: "{app}\Sightline.exe"; Flags: runminimized
Name: "{autodesktop}\Sightline"; Filename: "{app}\Sightline.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{tmp}\{#Redist}"; Parameters: "/install /quiet /norestart"; \
  StatusMsg: "Installing the Microsoft Visual C++ runtime..."; Flags: waituntilterminated
Filename: "{app}\Sightline.exe"; Description: "Start Sightline"; Flags: nowait postinstall skipifsilent
