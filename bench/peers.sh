# bench/peers.sh: the other SMTP servers bench/compare measures Portcullis against, each a private
# instance on 127.0.0.1 in the benchmark's temp folder. Sourced after lib.sh (uses log, free_port,
# port_open, bg_start, cleanup_hooks, srv_port, $work):
#
#   Postfix  Debian's postfix package, a separate instance (its own config_directory, queue_directory and
#            data_directory; one smtpd on 127.0.0.1:PORT) that delivers everything with the discard
#            transport. Started with `postfix -c DIR start`, stopped with `postfix -c DIR stop`. The
#            system's /etc/postfix instance is neither read for configuration nor started nor changed.
#   Haraka   the npm package Haraka, installed into a cache folder outside the repository
#            ($haraka_cache/VERSION), an instance made with `haraka -i` with the plugins
#            rcpt_to.in_host_list and queue/discard.
#
# Nothing here contacts anything but 127.0.0.1 (the npm registry only for the install); every wait is
# bounded; whatever is started is stopped on every exit (Haraka as a bg_start process group, Postfix by a
# cleanup hook).

# --- Postfix --------------------------------------------------------------------------------------
# need_postfix: sets postfix_bin and postfix_version (Debian's postfix, installed with smtp-source by
# need_smtp_source).
need_postfix() {
  need_smtp_source
  postfix_bin=/usr/sbin/postfix
  [ -x "$postfix_bin" ] || { log "postfix is missing (Debian's postfix package)"; exit 1; }
  postfix_version="$(postconf -d -h mail_version 2>/dev/null || echo '?')"
}

pf_dir() { echo "$work/$1"; }
pf_etc() { echo "$work/$1/etc"; }
pf_log() { echo "$work/$1/maillog"; }
declare -A pf_master=()   # NAME -> pid of its master process
declare -A pf_started=()  # NAME -> 1 from `postfix start` until it has been stopped

# start_postfix NAME: writes and starts a private Postfix instance in $work/NAME listening on 127.0.0.1
# and a free port (srv_port[NAME]), and waits until it accepts connections. Configuration (main.cf):
# - mail for bench.test is local (mydestination) and goes to the discard transport (local_transport,
#   default_transport and relay_transport = discard:): qmgr hands each message to discard(8), which
#   only logs it; smtpd still writes each message into the queue (cleanup fsyncs the queue file before
#   smtpd answers 250: Postfix's default and only behaviour) and qmgr deletes it after the discard.
# - local_recipient_maps = inline:{ bench=bench }: only bench@bench.test exists, like Portcullis'
#   `users = ["bench"]` (an unknown recipient gets 550).
# - smtpd_peername_lookup = no: no reverse DNS of the client (Portcullis' core chain makes none, and the
#   benchmark must not use a resolver).
# - default_process_limit = 120 (default 100): 100 smtpd for 100 sessions, and cleanup processes for
#   each of them, plus room for a new connection while the smtpd of the one just closed is still logging
#   its disconnect. Everything else, including in_flow_delay and the smtpd/cleanup limits, is the default.
# - logging to a file of its own (maillog_file, through postlogd), not syslog.
# master.cf: one smtpd on 127.0.0.1:PORT (the only TCP listener) and the internal services it needs
# (unix sockets in its own queue directory), no chroot.
start_postfix() {
  local name=$1 dir etc port pid deadline
  dir="$(pf_dir "$name")"; etc="$(pf_etc "$name")"
  port="$(free_port)"
  srv_port[$name]=$port
  # The daemons run as the postfix user and must reach their folders: mktemp made $work 0700.
  chmod 755 "$work"
  mkdir -p "$etc" "$dir/spool" "$dir/data"
  chown postfix "$dir/data"   # master.lock and the like: postfix-script wants it owned by mail_owner
  cat >"$etc/main.cf" <<EOF
# written by bench/$bench_name: a private instance, nothing shared with /etc/postfix
compatibility_level = 3.6
config_directory = $etc
queue_directory = $dir/spool
data_directory = $dir/data
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = bench.test
mydomain = bench.test
myorigin = bench.test
mydestination = bench.test
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
local_recipient_maps = inline:{ bench=bench }
alias_maps =
alias_database =
local_transport = discard:
default_transport = discard:
relay_transport = discard:
smtpd_peername_lookup = no
default_process_limit = 120
biff = no
EOF
  cat >"$etc/master.cf" <<EOF
# written by bench/$bench_name: one smtpd on 127.0.0.1:$port, internal services, no chroot
# service          type  private unpriv chroot wakeup maxproc command
127.0.0.1:$port    inet  n       -      n      -      -       smtpd
cleanup            unix  n       -      n      -      0       cleanup
qmgr               unix  n       -      n      300    1       qmgr
rewrite            unix  -       -      n      -      -       trivial-rewrite
bounce             unix  -       -      n      -      0       bounce
defer              unix  -       -      n      -      0       bounce
trace              unix  -       -      n      -      0       bounce
flush              unix  n       -      n      1000?  0       flush
proxymap           unix  -       -      n      -      -       proxymap
error              unix  -       -      n      -      -       error
retry              unix  -       -      n      -      -       error
discard            unix  -       -      n      -      -       discard
anvil              unix  -       -      n      -      1       anvil
postlog            unix-dgram n  -      n      -      1       postlogd
EOF
  cleanup_hooks+=("stop_postfix $name")
  pf_started[$name]=1
  # postfix logs its start-up errors to the maillog file (or syslog before it knows that file)
  if ! timeout 60 "$postfix_bin" -c "$etc" start >"$dir/start.out" 2>&1; then
    log "postfix '$name' did not start:"; cat "$dir/start.out" "$(pf_log "$name")" 2>/dev/null | tail -n 20 | sed 's/^/  /' >&2
    exit 1
  fi
  deadline=$(( SECONDS + start_limit ))
  until port_open "$port" && [ -s "$dir/spool/pid/master.pid" ]; do
    if (( SECONDS >= deadline )); then
      log "postfix '$name' not listening on 127.0.0.1:$port after ${start_limit}s; maillog:"
      tail -n 20 "$(pf_log "$name")" | sed 's/^/  /' >&2; exit 1
    fi
    sleep 0.2
  done
  pid=$(tr -d ' \n' <"$dir/spool/pid/master.pid")
  pf_master[$name]=$pid
  log "Postfix '$name' on 127.0.0.1:$port (master pid $pid, config $etc)"
}

# stop_postfix NAME: `postfix -c DIR stop`, then waits (15 s) for its master to exit; SIGKILL to the
# master and its children (by pid) if it has not.
stop_postfix() {
  local name=$1 etc pid kids
  etc="$(pf_etc "$name")"
  pid=${pf_master[$name]-}
  [ -n "${pf_started[$name]-}" ] || return 0
  pf_started[$name]=""
  timeout 30 "$postfix_bin" -c "$etc" stop >/dev/null 2>&1 || true
  if [ -z "$pid" ] && [ -s "$(pf_dir "$name")/spool/pid/master.pid" ]; then
    pid=$(tr -d ' \n' <"$(pf_dir "$name")/spool/pid/master.pid")
  fi
  pf_master[$name]=""
  [ -n "$pid" ] || return 0
  for _ in $(seq 1 150); do
    if ! pf_master_alive "$pid"; then
      # gone, or a zombie until init reaps it (it was daemonized): a few seconds at most, so that no
      # `master` is listed once the benchmark has ended
      for _ in $(seq 1 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
      return 0
    fi
    sleep 0.1
  done
  kids=$(pgrep -P "$pid" || true)
  log "postfix '$name' master (pid $pid) still running 15 s after 'postfix stop': SIGKILL to it and its children"
  kill -KILL "$pid" $kids 2>/dev/null || true
}

# pf_master_alive PID: the process exists and is not a zombie waiting for its parent.
pf_master_alive() {
  local state
  state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# postfix_queued NAME: messages still in NAME's queue (not yet discarded), any queue folder.
postfix_queued() {
  local spool; spool="$(pf_dir "$1")/spool"
  find "$spool/maildrop" "$spool/incoming" "$spool/active" "$spool/deferred" "$spool/hold" -type f 2>/dev/null | wc -l
}

# wait_postfix_queue NAME: waits until NAME's queue is empty (every accepted message discarded), at most
# $deliver_limit s or until it has not shrunk for $deliver_stall s; sets postfix_left.
wait_postfix_queue() {
  local name=$1 last=-1 stall_deadline deadline=$(( SECONDS + deliver_limit ))
  stall_deadline=$(( SECONDS + deliver_stall ))
  while :; do
    postfix_left=$(postfix_queued "$name")
    (( postfix_left == 0 )) && return 0
    if (( postfix_left != last )); then last=$postfix_left; stall_deadline=$(( SECONDS + deliver_stall )); fi
    if (( SECONDS >= deadline || SECONDS >= stall_deadline )); then
      log "postfix '$name': $postfix_left message(s) still queued"; return 1
    fi
    sleep "$poll_interval"
  done
}

# postfix_problems NAME: warning, error, fatal and panic lines in NAME's maillog.
postfix_problems() { grep -cE 'postfix/[a-z-]+\[[0-9]+\]: (warning|error|fatal|panic):' "$(pf_log "$1")" || true; }

# --- Haraka ---------------------------------------------------------------------------------------
# The version is pinned: the newest release whose engines field accepts the Node.js found here
# (Haraka 3.1.2 and later need Node.js >= 20; Debian 12's own nodejs is 18).
haraka_cache=${HARAKA_CACHE:-/var/tmp/portcullis-bench/haraka}
haraka_pin_node20=3.3.4
haraka_pin_node18=3.1.1

# need_haraka: Node.js and npm (Debian's packages when missing), then Haraka into
# $haraka_cache/VERSION unless it is there; sets haraka_bin, haraka_version, node_version.
need_haraka() {
  local major dir
  need_package node nodejs
  need_package npm npm
  node_version="$(node --version)"
  major=${node_version#v}; major=${major%%.*}
  if (( major >= 20 )); then haraka_version=$haraka_pin_node20
  elif (( major >= 18 )); then haraka_version=$haraka_pin_node18
  else log "Node.js $node_version is too old for Haraka 3 (needs >= 18)"; exit 1
  fi
  dir="$haraka_cache/$haraka_version"
  haraka_bin="$dir/node_modules/.bin/haraka"
  if [ ! -x "$haraka_bin" ]; then
    log "installing Haraka $haraka_version (npm) into $dir"
    mkdir -p "$dir"
    if ! waited timeout 600 npm install --prefix "$dir" --no-audit --no-fund --omit=dev --no-save \
         "Haraka@$haraka_version" >"$work/npm-install.log" 2>&1; then
      log "npm install Haraka@$haraka_version failed:"; tail -n 20 "$work/npm-install.log" | sed 's/^/  /' >&2; exit 1
    fi
    [ -x "$haraka_bin" ] || { log "no $haraka_bin after npm install"; exit 1; }
  fi
}

# start_haraka NAME NODES: creates a Haraka instance in $work/NAME/instance (`haraka -i`) and starts it
# on 127.0.0.1 and a free port (srv_port[NAME]; process group bg_pid[server-NAME]), with NODES worker
# processes (0: a single process, no cluster; "cpus": one per CPU). Configuration:
# - smtp.ini: listen=127.0.0.1:PORT, nodes=NODES, public_ip=127.0.0.1 (else Haraka may ask a public
#   STUN server for its address)
# - plugins: bench_no_rdns (below), rcpt_to.in_host_list with host_list = bench.test (accepts any
#   recipient in bench.test), queue/discard (answers 250 and drops the message: nothing is written to
#   disk); YES_REALLY_DO_DISCARD=1 in its environment, which queue/discard requires before it discards.
#   The instance's default mail_from.is_resolvable (DNS) and queue/smtp_forward are not loaded.
# - bench_no_rdns: a lookup_rdns hook that names the client without asking DNS (Haraka otherwise makes a
#   reverse lookup for every connection before it greets; Portcullis' core chain makes none).
# - log.ini: level=warn; me = bench.test.
start_haraka() {
  local name=$1 nodes=$2 dir inst port pid deadline
  dir="$work/$name"; inst="$dir/instance"
  mkdir -p "$dir"
  port="$(free_port)"
  srv_port[$name]=$port
  "$haraka_bin" -i "$inst" >"$dir/init.out" 2>&1 || { log "haraka -i failed:"; sed 's/^/  /' "$dir/init.out" >&2; exit 1; }
  cat >"$inst/config/smtp.ini" <<EOF
; written by bench/$bench_name
[main]
listen=127.0.0.1:$port
nodes=$nodes
public_ip=127.0.0.1
EOF
  printf '%s\n' bench_no_rdns rcpt_to.in_host_list queue/discard >"$inst/config/plugins"
  echo bench.test >"$inst/config/host_list"
  echo bench.test >"$inst/config/me"
  printf '[main]\nlevel=warn\ntimestamps=true\n' >"$inst/config/log.ini"
  mkdir -p "$inst/plugins"
  cat >"$inst/plugins/bench_no_rdns.js" <<'EOF'
// written by bench/compare: names the client without a reverse DNS lookup (the benchmark uses no DNS)
exports.hook_lookup_rdns = (next) => next(OK, 'client.bench.test')
EOF
  bg_start "server-$name" "$dir/server.log" env YES_REALLY_DO_DISCARD=1 "$haraka_bin" -c "$inst"
  pid=${bg_pid[server-$name]}
  log "Haraka '$name' on 127.0.0.1:$port (pid $pid, nodes=$nodes, log $dir/server.log)"
  deadline=$(( SECONDS + start_limit ))
  until port_open "$port"; do
    if ! kill -0 "$pid" 2>/dev/null || (( SECONDS >= deadline )); then
      log "Haraka '$name' not listening on 127.0.0.1:$port; log tail:"; tail -n 20 "$dir/server.log" | sed 's/^/  /' >&2; exit 1
    fi
    sleep 0.2
  done
}

# haraka_problems NAME: error lines Haraka logged after start-up (its TLS-certificate complaints at
# start, with no tls plugin loaded, do not count).
haraka_problems() {
  grep -E '\[(ERROR|CRIT|EMERG)\]' "$work/$1/server.log" | grep -Evc 'tls (key|cert) .* could not be loaded' || true
}
