#!/bin/sh
# Written by luna. dnsmasq runs it for every lease change (add|old|del MAC IP [NAME]) and
# every TFTP transfer (tftp SIZE IP FILE); luna reads the lines it appends, with the lease's
# expiry (Unix time, 0: never).
printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$DNSMASQ_LEASE_EXPIRES" >> '/var/lib/luna/dnsmasq/events'
