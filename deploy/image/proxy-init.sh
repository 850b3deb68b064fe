#!/bin/sh
# Transparent mode's init container (the Istio/Linkerd proxy-init pattern):
# in the pod's network namespace, send every outbound TCP connection to port
# 443 to Masker's transparent listener, except Masker's own connections (by
# uid) and loopback; refuse outbound UDP 443 (QUIC would pass unmasked; clients
# fall back to TCP). IPv4 and IPv6 alike; any failure fails the pod (fail closed).
#
#   MASKER_TRANSPARENT_PORT  Masker's `--mode transparent@127.0.0.1:PORT`
#   MASKER_UID               the uid Masker runs as (its own traffic leaves directly)
set -eu
port="${MASKER_TRANSPARENT_PORT:?MASKER_TRANSPARENT_PORT is not set}"
uid="${MASKER_UID:?MASKER_UID is not set}"

for ipt in iptables ip6tables; do
  case "$ipt" in
    iptables) loopback=127.0.0.0/8 ;;
    *) loopback=::1/128 ;;
  esac
  "$ipt" -t nat -N MASKER_OUTPUT
  "$ipt" -t nat -A MASKER_OUTPUT -m owner --uid-owner "$uid" -j RETURN
  "$ipt" -t nat -A MASKER_OUTPUT -d "$loopback" -j RETURN
  "$ipt" -t nat -A MASKER_OUTPUT -p tcp --dport 443 -j REDIRECT --to-ports "$port"
  "$ipt" -t nat -A OUTPUT -p tcp -j MASKER_OUTPUT
  "$ipt" -A OUTPUT -p udp --dport 443 -m owner ! --uid-owner "$uid" -j REJECT
done
echo "masker-proxy-init: outbound TCP 443 -> 127.0.0.1:$port (uid $uid excluded); UDP 443 refused"
