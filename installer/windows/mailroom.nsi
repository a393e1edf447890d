; Mailroom for Windows: a per-user installer (no administrator rights), built with NSIS 3.
;
;   makensis -WX -DVERSION=0.1.0 -DSOURCE_DIR=dist/mailroom -DICON=mailroom.ico \
;            -DOUTFILE=Mailroom-Setup-0.1.0.exe installer/windows/mailroom.nsi
;
; SOURCE_DIR is PyInstaller's one-folder output on Windows (installer/mailroom.spec):
;   Mailroom.exe      the app, no console window (Start menu, "start at login")
;   mailroom-cli.exe  the same program with a console, for the commands
;   _internal\        Python, the libraries, templates, static/, migrations
;
; What it does: installs to %LOCALAPPDATA%\Programs\Mailroom, adds a Start-menu entry
; and an entry in "Installed apps", and (only if the user ticks it) starts Mailroom at
; login through the HKCU Run key. Mail data lives elsewhere, in %LOCALAPPDATA%\Mailroom
; (platformdirs' user data folder, or MAILROOM_HOME): an upgrade never touches it, and
; the uninstaller deletes it only when the user ticks that box.
; Must not: write to HKLM or Program Files, or remove anything it did not install
; besides that ticked data folder.

Unicode true
ManifestDPIAware true
RequestExecutionLevel user
SetCompressor /SOLID lzma

!ifndef VERSION
  !error "Pass -DVERSION=X.Y.Z (mailroom.__version__)"
!endif
!ifndef SOURCE_DIR
  !error "Pass -DSOURCE_DIR=path/to/the/PyInstaller/output/folder"
!endif
!ifndef ICON
  !error "Pass -DICON=path/to/mailroom.ico (installer/icons.py draws it)"
!endif
!ifndef OUTFILE
  !define OUTFILE "Mailroom-Setup-${VERSION}.exe"
!endif

!define APP "Mailroom"
!define EXE "Mailroom.exe"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP}"
!define APP_KEY "Software\${APP}"
; the app's own `autostart` command writes and removes this same value
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define RUN_VALUE "${APP}"
; platformdirs.user_data_dir("Mailroom", appauthor=False) on Windows
!define DATA_DIR "$LOCALAPPDATA\${APP}"

Name "${APP}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP}"
; an upgrade goes where the last install went
InstallDirRegKey HKCU "${APP_KEY}" "InstallDir"
BrandingText "${APP} ${VERSION}"

!include "MUI2.nsh"
!include "nsDialogs.nsh"
!include "LogicLib.nsh"

; the version resource wants four numbers; a pre-release suffix (0.2.0rc1) is dropped there
!searchparse /noerrors "${VERSION}" "" V_MAJOR "." V_MINOR "." V_PATCH
!searchparse /noerrors "${V_PATCH}" "" V_PATCH_NUM "rc"
!ifndef V_PATCH_NUM
  !define V_PATCH_NUM "${V_PATCH}"
!endif
VIProductVersion "${V_MAJOR}.${V_MINOR}.${V_PATCH_NUM}.0"
VIAddVersionKey "ProductName" "${APP}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${APP} installer"
VIAddVersionKey "LegalCopyright" "MIT License"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_FINISHPAGE_RUN "$INSTDIR\${EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APP} now"

Var AutostartBox
Var Autostart
Var DeleteDataBox
Var DeleteData

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_DIRECTORY
Page custom AutostartPage AutostartPageLeave
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
UninstPage custom un.DataPage un.DataPageLeave
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

Function .onInit
  SetShellVarContext current
  ; keep the choice of the install being upgraded; off for a first install
  StrCpy $Autostart ${BST_UNCHECKED}
  ReadRegStr $0 HKCU "${RUN_KEY}" "${RUN_VALUE}"
  ${If} $0 != ""
    StrCpy $Autostart ${BST_CHECKED}
  ${EndIf}
FunctionEnd

Function AutostartPage
  !insertmacro MUI_HEADER_TEXT "Start at login" "Should ${APP} start when you log in to Windows?"
  nsDialogs::Create 1018
  Pop $0
  ${If} $0 == error
    Abort
  ${EndIf}
  ${NSD_CreateLabel} 0 0 100% 36u "${APP} checks your mailboxes while it runs, from its icon in the notification area. You can change this later in ${APP}'s settings."
  Pop $0
  ${NSD_CreateCheckbox} 0 44u 100% 12u "&Start ${APP} when I log in"
  Pop $AutostartBox
  ${NSD_SetState} $AutostartBox $Autostart
  nsDialogs::Show
FunctionEnd

Function AutostartPageLeave
  ${NSD_GetState} $AutostartBox $Autostart
FunctionEnd

Section "${APP}" SecApp
  SectionIn RO
  SetOutPath "$INSTDIR"
  ; an upgrade replaces the whole bundle: no library of the old version stays behind
  RMDir /r "$INSTDIR\_internal"
  File /r "${SOURCE_DIR}/*.*"
  WriteUninstaller "$INSTDIR\Uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${APP}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\${EXE}" 0

  ${If} $Autostart == ${BST_CHECKED}
    WriteRegStr HKCU "${RUN_KEY}" "${RUN_VALUE}" '"$INSTDIR\${EXE}"'
  ${Else}
    DeleteRegValue HKCU "${RUN_KEY}" "${RUN_VALUE}"
  ${EndIf}

  WriteRegStr HKCU "${APP_KEY}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${APP}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${EXE}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\Uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Function un.onInit
  SetShellVarContext current
  ; a silent uninstall (/S) never shows the page, so it keeps the data
  StrCpy $DeleteData ${BST_UNCHECKED}
FunctionEnd

Function un.DataPage
  !insertmacro MUI_HEADER_TEXT "Your mail data" "Mailroom's database, downloaded mail and logs"
  nsDialogs::Create 1018
  Pop $0
  ${If} $0 == error
    Abort
  ${EndIf}
  ${NSD_CreateLabel} 0 0 100% 36u "Your clients, messages, tasks and settings stay in ${DATA_DIR}, so a later install of ${APP} finds them again. Passwords stay in Windows Credential Manager."
  Pop $0
  ${NSD_CreateCheckbox} 0 44u 100% 12u "&Also delete my ${APP} data (this cannot be undone)"
  Pop $DeleteDataBox
  ${NSD_SetState} $DeleteDataBox ${BST_UNCHECKED}
  nsDialogs::Show
FunctionEnd

Function un.DataPageLeave
  ${NSD_GetState} $DeleteDataBox $DeleteData
FunctionEnd

Section "Uninstall"
  Delete "$SMPROGRAMS\${APP}.lnk"
  DeleteRegValue HKCU "${RUN_KEY}" "${RUN_VALUE}"

  ; only what the installer put there: the folder itself goes only if nothing else is left
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${EXE}"
  Delete "$INSTDIR\mailroom-cli.exe"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"

  ${If} $DeleteData == ${BST_CHECKED}
    RMDir /r "${DATA_DIR}"
  ${EndIf}

  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "${APP_KEY}"
SectionEnd
