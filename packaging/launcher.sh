#!/bin/sh
# kexec-ts, as the Debian package installs it where no single compiled binary was built: the pinned Deno runtime
# running kexec-ts bundled into one file, both under /usr/lib/kexec-ts. The options keep the run self-contained:
# no deno.json or lock file from the current directory, no remote or npm modules, no update check. --allow-all,
# because Deno lets nothing less read /proc and /sys.
# KEXEC_TS_LAUNCHER tells kexec-ts its own command (the udev rule runs "/usr/sbin/kexec-ts reload").
KEXEC_TS_LAUNCHER=/usr/sbin/kexec-ts
DENO_NO_UPDATE_CHECK=1
export KEXEC_TS_LAUNCHER DENO_NO_UPDATE_CHECK
exec /usr/lib/kexec-ts/deno run --quiet --no-config --no-lock --no-remote --no-npm --allow-all \
  /usr/lib/kexec-ts/kexec-ts.js "$@"
