# antispam.sh: sourced by the benchmarks that run Portcullis with its anti-spam chain (antispam-throughput,
# compare): the dnsmasq on 127.0.0.1 that answers the chain's DNS, the check of its data, and the chain's
# configuration. Expects lib.sh sourced first, and dns_ttl and greeting_delay set. Needs dnsmasq and dig
# (need_dns_tools installs them).

need_dns_tools() {
  need_package dnsmasq dnsmasq-base
  need_package dig dnsutils
  dnsmasq_bin="$(command -v dnsmasq || echo /usr/sbin/dnsmasq)"
}

# --- DNS: dnsmasq on 127.0.0.1 --------------------------------------------------------------------
# An authoritative server for bench.test and 127.in-addr.arpa, as real zones are (--auth-zone): every
# answer, NXDOMAIN included, carries the zone's TTL, and a negative answer the SOA that makes it cacheable
# (RFC 2308), as a real DNSBL's does; --local answers would carry no SOA, so a resolver could never cache
# "not listed". Nothing else is answered (REFUSED): there is no upstream at all (--no-resolv).
dns_records=(
  --host-record=client.bench.test,127.0.0.1          # A client.bench.test and PTR 1.0.0.127.in-addr.arpa (FCrDNS, HELO)
  --host-record=2.0.0.127.bl.bench.test,127.0.0.2    # DNSBL zone: the RFC 5782 test entry; 127.0.0.1 not listed
  --host-record=2.0.0.127.wl.bench.test,127.0.0.2    # DNSWL zone: likewise
  --mx-host=bench.test,mx.bench.test,10              # sender: bench.test can receive mail
  --host-record=mx.bench.test,127.0.0.1
  "--txt-record=bench.test,v=spf1 ip4:127.0.0.1 -all"   # SPF: 127.0.0.1 may send for bench.test
)

dig_q() { dig @127.0.0.1 -p "$dns_port" +time=2 +tries=1 +noall +comments +answer "$@" 2>&1; }

start_dns() {
  local attempt
  dns_dir="$work/dns"
  mkdir -p "$dns_dir"
  dns_log="$dns_dir/dnsmasq.log"
  for attempt in 1 2 3; do
    dns_port="$(free_port)"
    bg_start dns "$dns_log" "$dnsmasq_bin" --keep-in-foreground --log-facility=- --conf-file=/dev/null \
      --pid-file="$dns_dir/dnsmasq.pid" --no-resolv --no-hosts --port="$dns_port" --listen-address=127.0.0.1 \
      --bind-interfaces --auth-server=ns.bench.test,127.0.0.1 --auth-zone=bench.test,127.0.0.0/8 \
      --auth-ttl="$dns_ttl" "${dns_records[@]}"
    local deadline=$(( SECONDS + 10 ))
    while bg_running dns && (( SECONDS < deadline )); do
      dig_q client.bench.test A | grep -q 'status: ' && { log "dnsmasq on 127.0.0.1:$dns_port (pid ${bg_pid[dns]})"; return 0; }
      sleep 0.2
    done
    log "dnsmasq did not answer on 127.0.0.1:$dns_port (attempt $attempt); its log:"; sed 's/^/  /' "$dns_log" >&2
    bg_stop dns
  done
  exit 1
}

# expect_dns NAME TYPE STATUS [ANSWER]: one query, its status and (joined) answer data must be these.
dns_bad=0
expect_dns() {
  local name=$1 type=$2 want_status=$3 want=${4-} out status answer
  out="$(dig_q "$name" "$type")"
  status="$(sed -n 's/.*status: \([A-Z]*\),.*/\1/p' <<<"$out")"
  answer="$(awk '!/^;/ && NF >= 5 { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }' <<<"$out" | paste -sd' ' -)"
  if [ "$status" = "$want_status" ] && [ "$answer" = "$want" ]; then
    log "  ok  $name $type: $status${answer:+ $answer}"
  else
    log "  BAD $name $type: $status${answer:+ $answer} (expected $want_status${want:+ $want})"; dns_bad=1
  fi
}

verify_dns() {
  log "DNS data (dig @127.0.0.1 -p $dns_port):"
  expect_dns 2.0.0.127.bl.bench.test A NOERROR 127.0.0.2             # the zone passes RFC 5782 5's test...
  expect_dns 1.0.0.127.bl.bench.test A NXDOMAIN                      # ...and the client (127.0.0.1) is not listed
  expect_dns 2.0.0.127.wl.bench.test A NOERROR 127.0.0.2
  expect_dns 1.0.0.127.wl.bench.test A NXDOMAIN
  expect_dns 1.0.0.127.in-addr.arpa PTR NOERROR client.bench.test.   # FCrDNS: PTR ...
  expect_dns client.bench.test A NOERROR 127.0.0.1                   # ... and back (also HELO no_resolve)
  expect_dns bench.test MX NOERROR "10 mx.bench.test."               # sender
  expect_dns mx.bench.test A NOERROR 127.0.0.1
  expect_dns bench.test TXT NOERROR '"v=spf1 ip4:127.0.0.1 -all"'    # spf
  # a negative answer carries the SOA whose minimum (the TTL) lets it be cached (RFC 2308 5)
  if dig_q 1.0.0.127.bl.bench.test A +authority | grep -qE "^bench\.test\.[[:space:]]+$dns_ttl[[:space:]]+IN[[:space:]]+SOA[[:space:]].* $dns_ttl\$"; then
    log "  ok  1.0.0.127.bl.bench.test A: NXDOMAIN with the zone's SOA, negative TTL ${dns_ttl}s"
  else
    log "  BAD 1.0.0.127.bl.bench.test A: no SOA with minimum $dns_ttl in the authority section"; dns_bad=1
  fi
  (( dns_bad == 0 )) || { log "dnsmasq does not answer as intended: no run"; exit 1; }
}

# dns_queries: dnsmasq's count of queries answered locally so far (SIGUSR1 makes it log its counters).
dns_queries() {
  local before after
  before=$(grep -c 'queries answered locally' "$dns_log" || true)
  kill -USR1 "${bg_pid[dns]}" 2>/dev/null || { echo 0; return; }
  for _ in $(seq 1 50); do
    after=$(grep -c 'queries answered locally' "$dns_log" || true)
    (( after > before )) && break
    sleep 0.1
  done
  grep 'queries answered locally' "$dns_log" | tail -n 1 | sed 's/.*queries answered locally \([0-9]*\).*/\1/'
}


# antispam_config: the [checks], [dns] and [[plugin]] tables of the anti-spam chain, for write_config:
# the order the plugin pages recommend; 127.0.0.1 is exempt from nothing ([checks] allow_networks = [],
# no [relay] networks), so every check runs for every connection. DNS: the dnsmasq of start_dns.
antispam_config() {
  cat <<EOF
[checks]
allow_networks = []

[dns]
servers = ["127.0.0.1:$dns_port"]
timeout = "2s"
retries = 1

# limits raised so that the benchmark's own load (20 sessions from 127.0.0.1, thousands of connections
# a minute, hundreds of messages per connection with --reuse) is counted but never refused
[[plugin]]
name = "limit"
max_connections_per_ip = 1000
max_connections_per_minute_per_ip = 1000000
max_messages_per_connection = 1000000
max_recipients_per_connection = 1000000

[[plugin]]
name = "earlytalker"
delay = "$greeting_delay"

[[plugin]]
name = "dnswl"
zones = ["wl.bench.test"]

[[plugin]]
name = "dnsbl"
zones = ["bl.bench.test"]

[[plugin]]
name = "fcrdns"

[[plugin]]
name = "helo"

[[plugin]]
name = "sender"

[[plugin]]
name = "spf"

[[plugin]]
name = "karma"

[[plugin]]
name = "relay"

[[plugin]]
name = "rcpt"
EOF
}
