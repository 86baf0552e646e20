# Unload and exec with nothing loaded, -S exit codes, and errors for a non-root caller.
block unload kexec-ts -u
block unload-crash kexec-ts -p -u
block unload-crash-bundled kexec-ts -pu
block unload-file kexec-ts -s -u
block unload-file-crash kexec-ts -s -p -u
block status-exit-crash kexec-ts -S
block status-exit-normal kexec-ts -l -S
block exec-nothing kexec-ts -e
mkdir -p /tmp/nobody && chmod 777 /tmp/nobody
block unload-nonroot su -s /bin/sh nobody -c 'DENO_DIR=/tmp/nobody /bin/kexec-ts -p -u'
block kexec-tools-status kexec -S
sysval sys.kexec_crash_loaded /sys/kernel/kexec_crash_loaded
