# Sends the firmware's FADT and MADT (for the CPU hotplug table upgrade, scripts/vm/acpi.ts).
for t in FACP APIC; do
  echo "@@KTS-BEGIN acpi:$t"
  base64 < /sys/firmware/acpi/tables/$t
  echo "@@KTS-END-BLOCK acpi:$t"
done
