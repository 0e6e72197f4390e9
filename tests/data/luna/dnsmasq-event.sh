#!/bin/sh
# Written by luna. dnsmasq runs it for every lease change (add|old|del MAC IP [NAME]) and
# every TFTP transfer (tftp SIZE IP FILE); luna reads the lines it appends.
printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> '/var/lib/luna/dnsmasq/events'
