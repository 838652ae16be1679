#!/bin/sh
# keepalived notify hook: logs every VRRP transition of a casgate node. Configured as
#   notify "/etc/keepalived/casgate-notify.sh /var/log/casgate-ha/transitions.log"
# keepalived appends: GROUP|INSTANCE, the instance name, MASTER|BACKUP|FAULT|STOP, the priority.
# Install root-owned and not writable by others (enable_script_security):
#   install -m 0755 casgate-notify.sh /etc/keepalived/ && install -d -o nobody -g nogroup /var/log/casgate-ha
# Each line goes to syslog/journal (journalctl -t casgate-ha) and to the file named first, when it is writable.
log="$1"
shift
line="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) $(hostname) vrrp $1 $2 -> $3 (priority $4)"
logger -t casgate-ha -- "$line" 2>/dev/null || true
if [ -n "$log" ] && [ -w "$log" -o -w "$(dirname "$log")" ]; then echo "$line" >>"$log"; fi
exit 0
