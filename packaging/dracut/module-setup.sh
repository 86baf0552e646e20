#!/bin/bash
# dracut module "kexec-ts": puts kexec-ts into the initramfs, for rescue shells that boot another kernel.
# Only when asked for (dracut --add kexec-ts, or add_dracutmodules+=" kexec-ts " in /etc/dracut.conf.d/*.conf):
# unless kexec-ts is one compiled binary it brings the Deno runtime, about 40 MB compressed. See kexec-ts(8).

check() {
    # 255: never chosen automatically, only when named.
    return 255
}

depends() {
    return 0
}

install() {
    if [[ -x /usr/lib/kexec-ts/deno ]]; then
        # /usr/sbin/kexec-ts is the launcher: a shell script running the bundle with the packaged Deno runtime.
        inst_script /usr/sbin/kexec-ts
        inst_binary /usr/lib/kexec-ts/deno
        inst_simple /usr/lib/kexec-ts/kexec-ts.js
    else
        inst_binary /usr/sbin/kexec-ts
    fi
    # Opened with dlopen() at run time, so dracut does not see them: libc's syscall() for kexec_load(2), and
    # libcrypto's SHA-256 (optional: without it kexec-ts hashes with a slower fallback).
    inst_libdir_file "libc.so.6" "libcrypto.so.3"
}
