# bench/lib.sh: shell functions shared by the benchmarks in bench/. Sourced, never run:
#
#   bench_name=core-throughput   # prefix of every progress line
#   . "$here/lib.sh"
#
# It gives: the tools (smtp-source and smtp-sink from Debian's postfix, installed when missing; any other
# Debian package on demand), a temp folder removed on every exit, background processes in their own
# process groups stopped on every exit (also failure and Ctrl-C), the build-and-freeze of a Portcullis
# checkout, one or more Portcullis servers on 127.0.0.1 (each with its own folder, config, data and log),
# smtp-sink instances on loopback that count what they receive, and the smtp-source run, delivery wait
# and log counts used by a measured run. Everything stays on loopback (127.0.0.0/8) and every wait is
# bounded. Expects `set -euo pipefail` in the caller.

# Time limits (seconds): build, server start-up, each smtp-source run, waiting for delivery.
build_limit=${build_limit:-600}
start_limit=${start_limit:-60}
send_limit=${send_limit:-900}
deliver_limit=${deliver_limit:-300}
deliver_stall=${deliver_stall:-15}   # delivery is over when the count has not grown for this long

log() { echo "$bench_name: $*" >&2; }

number() { [[ "$2" =~ ^[0-9]+$ ]] || { echo "$bench_name: $1 needs a whole number, got '$2'" >&2; exit 2; }; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# --- tools ---------------------------------------------------------------------------------------
apt_updated=0
# need_package COMMAND PACKAGE: installs Debian's PACKAGE (as root) when COMMAND is missing.
need_package() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  [ -x "/usr/sbin/$cmd" ] && return 0
  log "$cmd missing: installing Debian's $pkg"
  [ "$(id -u)" = 0 ] || { log "not root: install $pkg yourself (apt-get install $pkg)"; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  if (( ! apt_updated )); then timeout --foreground 600 apt-get update -q >&2; apt_updated=1; fi
  timeout --foreground 600 apt-get install -y -q --no-install-recommends "$pkg" >&2
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || { log "$pkg installed but $cmd is still missing"; exit 1; }
}

# need_smtp_source: sets smtp_source and smtp_sink, installing Debian's postfix (which ships both) when
# missing.
need_smtp_source() {
  smtp_source=/usr/sbin/smtp-source
  [ -x "$smtp_source" ] || smtp_source="$(command -v smtp-source || true)"
  if [ -z "$smtp_source" ] || [ ! -x "$smtp_source" ]; then
    # postfix asks how to configure itself unless told: a local-only setup that touches nothing outside.
    [ "$(id -u)" = 0 ] && { echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true; }
    need_package smtp-source postfix
    smtp_source=/usr/sbin/smtp-source
  fi
  smtp_sink=/usr/sbin/smtp-sink
  [ -x "$smtp_sink" ] || smtp_sink="$(command -v smtp-sink || true)"
  local tool
  for tool in timeout setsid; do
    command -v "$tool" >/dev/null || { log "$tool (coreutils/util-linux) is missing"; exit 1; }
  done
}

# free_port [ADDRESS]: a TCP port free on ADDRESS (127.0.0.1 unless given; any loopback address works).
free_port() {
  local addr=${1:-127.0.0.1}
  if command -v python3 >/dev/null; then
    python3 -c 'import socket, sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1]); s.close()' "$addr"
    return
  fi
  local p
  for _ in $(seq 1 50); do   # no python3: a random high port that nobody answers on
    p=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/$addr/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  log "found no free port"; exit 1
}

# port_open PORT [ADDRESS]: something accepts connections on ADDRESS (127.0.0.1 unless given):PORT.
port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

# --- temp folder, background processes, cleanup ----------------------------------------------------
# bench_init: makes $work and installs the traps. Honours $keep (1: keep the folder).
declare -A bg_pid=()      # name -> pid (= process group id: started with setsid)
bg_order=()               # names in start order; stopped in reverse
keep=${keep:-0}
waited_pid=""             # the command `waited` is waiting for

# waited COMMAND...: runs COMMAND in the background and waits for it; its exit status. Bash runs a trap
# only once the foreground command has ended, so a build or an smtp-source run in the foreground would
# hold up Ctrl-C or SIGTERM until it is over; a `wait` is interrupted at once, and bench_cleanup then
# sends COMMAND a SIGTERM. Meant for `timeout LIMIT ...`, which passes the signal on to its process group.
waited() {
  local rc=0
  "$@" &
  waited_pid=$!
  wait "$waited_pid" || rc=$?
  waited_pid=""
  return "$rc"
}

bench_init() {
  work="$(mktemp -d "${TMPDIR:-/tmp}/$bench_name.XXXXXX")"
  trap bench_cleanup EXIT
  trap 'log "interrupted"; exit 130' INT
  trap 'log "terminated"; exit 143' TERM
}

# bg_start NAME OUTFILE [--stderr ERRFILE] COMMAND...: starts COMMAND in its own session and process
# group (setsid), stdin from /dev/null, stdout and stderr to OUTFILE (stderr to ERRFILE when given); its
# pid (also its group id) goes to bg_pid[NAME].
bg_start() {
  local name=$1 out=$2 err=$2; shift 2
  if [ "${1-}" = --stderr ]; then err=$2; shift 2; fi
  if [ "$err" = "$out" ]; then setsid "$@" >"$out" 2>&1 </dev/null &
  else setsid "$@" >"$out" 2>"$err" </dev/null &
  fi
  bg_pid[$name]=$!
  bg_order+=("$name")
}

bg_running() { local pid=${bg_pid[$1]-}; [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

# bg_stop NAME: SIGTERM to its process group (a build the launcher started goes too; Portcullis runs its
# shutdown hook), SIGKILL after 10 s.
bg_stop() {
  local name=$1 pid=${bg_pid[$1]-}
  [ -n "$pid" ] || return 0
  bg_pid[$name]=""
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$name (pid $pid) still running 10 s after SIGTERM: SIGKILL"
  kill -KILL -- "-$pid" 2>/dev/null || true
}

# cleanup_hooks: commands bench_cleanup runs first, in reverse order, for what is not a bg_start process
# (e.g. a daemon that forks away from its process group, stopped by its own command).
cleanup_hooks=()

bench_cleanup() {
  local rc=$? i
  # a second Ctrl-C or SIGTERM must not cut the cleanup short and leave servers running (each bg_stop
  # ends in a SIGKILL within 10 s anyway)
  trap - EXIT
  trap '' INT TERM
  if [ -n "${waited_pid-}" ]; then kill -TERM "$waited_pid" 2>/dev/null || true; wait "$waited_pid" 2>/dev/null || true; fi
  for (( i = ${#cleanup_hooks[@]} - 1; i >= 0; i-- )); do ${cleanup_hooks[i]} || true; done
  for (( i = ${#bg_order[@]} - 1; i >= 0; i-- )); do bg_stop "${bg_order[i]}"; done
  if [ -n "${work-}" ] && [ -d "$work" ]; then
    if (( keep )); then log "kept $work"; else rm -rf -- "$work"; fi
  fi
  exit "$rc"
}

# cpu_seconds PID: user + system CPU time the process has used so far (all its threads), in seconds.
cpu_seconds() {
  local ticks; ticks=$(getconf CLK_TCK 2>/dev/null || echo 100)
  awk -v hz="$ticks" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# --- build, freeze --------------------------------------------------------------------------------
# build_and_freeze: builds $repo when its sources are newer than the jar, then copies the launcher, jar
# and target/lib to $work/app, with an empty src/main and a pom.xml older than the jar, so the launcher
# there finds nothing to rebuild. In a work tree that others edit while the bench runs, the launcher would
# otherwise rebuild at `serve` (sources newer than the jar), measuring another build or failing the
# start-up wait. Sets app (the frozen copy) and jar_info.
#
# BENCH_BUILD_DIR=DIR: build with `mvn package -Dbuild.dir=DIR` instead (always, tests skipped) and
# freeze DIR's jar and lib/, leaving $repo/target alone (for a work tree others build in at the same time).
build_and_freeze() {
  local out="$repo/target"
  if [ -n "${BENCH_BUILD_DIR-}" ]; then
    out=$BENCH_BUILD_DIR
    log "building into $out (BENCH_BUILD_DIR)"
    if ! waited timeout "$build_limit" mvn -B -q -f "$repo/pom.xml" -DskipTests -Dbuild.dir="$out" package \
         >"$work/build.log" 2>&1; then
      log "build failed:"; tail -n 40 "$work/build.log" >&2; exit 1
    fi
  else
    log "building if needed"
    if ! waited timeout "$build_limit" "$repo/portcullis" default-config >/dev/null 2>"$work/build.log"; then
      log "build failed:"; tail -n 40 "$work/build.log" >&2; exit 1
    fi
  fi
  local jar="$out/portcullis.jar" commit
  [ -f "$jar" ] && [ -d "$out/lib" ] || { log "no $jar (and $out/lib) after the build"; exit 1; }
  commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo "not a git checkout")"
  jar_info="jar sha256 $(sha256sum "$jar" | cut -c1-12), built $(date -u -r "$jar" +%FT%TZ)"
  log "benchmarking $repo (HEAD $commit; sources as they are in the work tree), $jar_info"
  app="$work/app"
  mkdir -p "$app/target" "$app/src/main"
  cp -p "$repo/portcullis" "$app/"
  cp -p "$jar" "$app/target/"
  cp -rp "$out/lib" "$app/target/"
  touch "$app/pom.xml"
  touch -d '2000-01-01' "$app/pom.xml" "$app/src/main"
}

# --- servers --------------------------------------------------------------------------------------
# A server NAME lives in $work/NAME: portcullis.toml, data/, server.log, and one LABEL.out per
# smtp-source run. Its port is srv_port[NAME]; its process is bg_pid[server-NAME].
declare -A srv_port=()

srv_dir() { echo "$work/$1"; }
srv_log() { echo "$work/$1/server.log"; }
srv_pid() { echo "${bg_pid[server-$1]-}"; }

# write_config NAME: writes the base configuration (hostname bench.test, data in the server's folder,
# one mx listener on 127.0.0.1 and a free port, local domain bench.test, user bench, local delivery
# $local_delivery: maildir unless a script sets it) followed by whatever is on stdin (more tables:
# [[plugin]], [dns], [checks] ...).
local_delivery=maildir
write_config() {
  local name=$1 dir port
  dir="$(srv_dir "$name")"
  mkdir -p "$dir"
  port="$(free_port)"
  srv_port[$name]=$port
  {
    cat <<EOF
# written by bench/$bench_name
[server]
hostname = "bench.test"
data_dir = "$dir/data"

[[listener]]
address = "127.0.0.1"
port = $port
role = "mx"

[local]
domains = ["bench.test"]
users = ["bench"]
delivery = "$local_delivery"
EOF
    cat
  } >"$dir/portcullis.toml"
}

# start_server NAME: starts the frozen `portcullis serve` with NAME's config, waits until it listens.
start_server() {
  local name=$1 log_file port pid rc deadline
  log_file="$(srv_log "$name")"; port=${srv_port[$name]}
  bg_start "server-$name" "$log_file" "$app/portcullis" serve --config "$(srv_dir "$name")/portcullis.toml"
  pid=$(srv_pid "$name")
  log "starting Portcullis '$name' on 127.0.0.1:$port (pid $pid, log $log_file)"
  deadline=$(( SECONDS + start_limit ))
  until port_open "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null && rc=0 || rc=$?
      bg_pid[server-$name]=""
      log "server '$name' exited (status $rc) before listening; log tail:"; tail -n 40 "$log_file" >&2; exit 1
    fi
    if (( SECONDS >= deadline )); then
      log "server '$name' not listening on 127.0.0.1:$port after ${start_limit}s; log tail:"; tail -n 40 "$log_file" >&2; exit 1
    fi
    sleep 0.2
  done
}

# delivered_count NAME: messages NAME delivered: files in the Maildir, or with [local] delivery =
# "discard", "result=discarded" lines in its log (one per message: every message has one recipient).
delivered_count() {
  local new files discarded
  new="$(srv_dir "$1")/data/mail/bench/new"
  files=0; [ -d "$new" ] && files=$(find "$new" -type f | wc -l)
  discarded=$(grep -c 'result=discarded' "$(srv_log "$1")" || true)
  echo $(( files + discarded ))
}
queued_count() { grep -c 'result="250 queued"' "$(srv_log "$1")" || true; }

# settle_log NAME: waits (5 s at most) until NAME's log has not grown for 200 ms. The server writes its log
# in batches (20 ms apart): a connection's last lines may come a moment after its client is done.
settle_log() {
  local f size last=-1 deadline=$(( SECONDS + 5 ))
  f="$(srv_log "$1")"
  while (( SECONDS < deadline )); do
    size=$(stat -c %s "$f" 2>/dev/null || echo 0)
    (( size == last )) && return 0
    last=$size
    sleep 0.2
  done
}
problem_count() { grep -cE ' (WARNING|SEVERE) ' "$(srv_log "$1")" || true; }

# queue_left NAME: what is left in NAME's spool: "M messages, D .done, H .hold, S retry states, T in tmp"
# (all 0 when the queue is empty).
queue_left() {
  local q m d h st t
  q="$(srv_dir "$1")/data/queue"
  m=$(find "$q/messages" -maxdepth 1 -type f ! -name '*.done' ! -name '*.hold' 2>/dev/null | wc -l)
  d=$(find "$q/messages" -maxdepth 1 -type f -name '*.done' 2>/dev/null | wc -l)
  h=$(find "$q/messages" -maxdepth 1 -type f -name '*.hold' 2>/dev/null | wc -l)
  st=$(find "$q/state" -maxdepth 1 -type f 2>/dev/null | wc -l)
  t=$(find "$q/tmp" -maxdepth 1 -type f 2>/dev/null | wc -l)
  echo "$m messages, $d .done, $h .hold, $st retry states, $t in tmp"
}
queue_messages() { find "$(srv_dir "$1")/data/queue/messages" -maxdepth 1 -type f ! -name '*.done' ! -name '*.hold' 2>/dev/null | wc -l; }

# smtp-source arguments for every run (without -m); set by source_setup SESSIONS SIZE REUSE [RECIPIENT]
# (the recipient is bench@bench.test, the local mailbox, unless given).
source_setup() {
  source_args=(-c -s "$1" -l "$2" -f sender@bench.test -t "${4:-bench@bench.test}" -M client.bench.test)
  (( $3 )) && source_args+=(-d)
  mode=$([ "$3" = 1 ] && echo "reused connections (-d)" || echo "one connection per message")
}

# source_run WHAT HOST:PORT OUTFILE COUNT [SERVERNAME]: runs smtp-source with source_args against
# HOST:PORT, output to OUTFILE; on failure shows the evidence (smtp-source's last lines and, when
# SERVERNAME is a Portcullis server started here, its warnings and last lines). WHAT names the run in
# the progress lines.
source_run() {
  local what=$1 target=$2 out=$3 count=$4 name=${5-} rc=0 log_file
  waited timeout "$send_limit" "$smtp_source" "${source_args[@]}" -m "$count" "$target" >"$out" 2>&1 || rc=$?
  if (( rc != 0 )); then
    if (( rc == 124 )); then log "$what: smtp-source did not finish within ${send_limit}s (killed)"
    else log "$what: smtp-source failed (exit status $rc)"; fi
    log "$what: smtp-source output (last lines):"
    tr '\r' '\n' <"$out" | grep -v '^$' | tail -n 5 | sed 's/^/  /' >&2
    if [ -n "$name" ]; then
      log_file="$(srv_log "$name")"
      log "server '$name' log, warnings and errors (last lines):"
      grep -E ' (WARNING|SEVERE) |Exception' "$log_file" | tail -n 20 | sed 's/^/  /' >&2 || echo "  (none)" >&2
      log "server '$name' log, last lines:"; tail -n 10 "$log_file" | sed 's/^/  /' >&2
    fi
  fi
  return "$rc"
}

# run_source NAME LABEL COUNT: runs smtp-source against server NAME, output to its LABEL.out (see
# source_run).
run_source() {
  source_run "$1 $2" "127.0.0.1:${srv_port[$1]}" "$(srv_dir "$1")/$2.out" "$3" "$1"
}

# source_counter NAME LABEL: smtp-source's -c counter at the end of a run (completed DATA commands,
# accepted or not). source_counter_file OUTFILE: the same for any smtp-source output file.
source_counter_file() {
  tr '\r' '\n' <"$1" | grep -E '^[0-9]+$' | tail -n 1 || true
}
source_counter() { source_counter_file "$(srv_dir "$1")/$2.out"; }

# wait_count WHAT EXPECTED COMMAND...: polls COMMAND (which prints a count) every $poll_interval s until
# the count reaches EXPECTED, has not grown for $deliver_stall s, or $deliver_limit s have passed; sets
# counted and counted_at (the time the count was first seen at its last value).
poll_interval=${poll_interval:-0.2}
wait_count() {
  local what=$1 expected=$2 last=-1 last_change; shift 2
  last_change=$(now)
  local deadline=$(( SECONDS + deliver_limit )) stall_deadline=$(( SECONDS + deliver_stall ))
  while :; do
    counted=$("$@")
    if (( counted != last )); then last=$counted; last_change=$(now); stall_deadline=$(( SECONDS + deliver_stall )); fi
    (( counted >= expected )) && break
    (( SECONDS >= stall_deadline )) && { log "$what: no new message in ${deliver_stall}s, stopped waiting at $counted/$expected"; break; }
    (( SECONDS >= deadline )) && { log "$what: still incomplete after ${deliver_limit}s ($counted/$expected)"; break; }
    sleep "$poll_interval"
  done
  counted_at=$last_change
}

# wait_delivery NAME EXPECTED: waits until NAME's Maildir holds EXPECTED messages or stops growing; sets
# delivered and delivered_at (when the count last grew).
wait_delivery() {
  wait_count "$1 delivery" "$2" delivered_count "$1"
  delivered=$counted; delivered_at=$counted_at
}

# --- smtp-sink ------------------------------------------------------------------------------------
# A sink NAME is Postfix's smtp-sink on a loopback ADDRESS and a free port (sink_addr[NAME],
# sink_port[NAME]; its process is bg_pid[sink-NAME]). It throws every message away and keeps nothing; with
# -c it writes its running counters to $work/sink-NAME.out ("sess=S quit=Q mesg=M", each ended by a CR),
# updated when a session ends, at QUIT and at each final "." of DATA. Its own messages go to
# $work/sink-NAME.err.
declare -A sink_port=() sink_addr=()
sink_out() { echo "$work/sink-$1.out"; }

# start_sink NAME ADDRESS [OPTIONS...]: starts smtp-sink -c [OPTIONS] ADDRESS:PORT 1000 (backlog 1000; at
# most 256 simultaneous connections, its default), as nobody when run as root (smtp-sink insists), and
# waits (10 s at most) until it listens. Its readiness probe is one session without a message.
start_sink() {
  local name=$1 addr=$2 port deadline pid; shift 2
  [ -n "${smtp_sink-}" ] && [ -x "$smtp_sink" ] || { log "smtp-sink (Debian's postfix) is missing"; exit 1; }
  local as_user=()
  [ "$(id -u)" = 0 ] && as_user=(-u nobody)
  port="$(free_port "$addr")"
  sink_addr[$name]=$addr; sink_port[$name]=$port
  bg_start "sink-$name" "$(sink_out "$name")" --stderr "$work/sink-$name.err" \
    "$smtp_sink" -c ${as_user[@]+"${as_user[@]}"} "$@" "$addr:$port" 1000
  pid=${bg_pid[sink-$name]}
  log "smtp-sink '$name' on $addr:$port (pid $pid)"
  deadline=$(( SECONDS + 10 ))
  until port_open "$port" "$addr"; do
    if ! kill -0 "$pid" 2>/dev/null || (( SECONDS >= deadline )); then
      log "smtp-sink '$name' not listening on $addr:$port; its messages:"; sed 's/^/  /' "$work/sink-$name.err" >&2; exit 1
    fi
    sleep 0.1
  done
}

# sink_count NAME [FIELD]: smtp-sink NAME's last counter FIELD (mesg: messages received, the default;
# sess: sessions ended; quit: QUIT commands), 0 before the first. Reads only the last complete record.
sink_count() {
  local data field=${2:-mesg} rec
  data="$(tail -c 256 "$(sink_out "$1")" 2>/dev/null; echo x)"; data=${data%x}
  [[ "$data" == *$'\r' ]] || data=${data%$'\r'*}   # drop a record still being written
  data=${data%$'\r'}
  rec=${data##*$'\r'}
  if [[ "$rec" =~ (^|\ )$field=([0-9]+) ]]; then echo "${BASH_REMATCH[2]}"; else echo 0; fi
}

# newest_jdk: the java of the newest JDK >= 21 under /usr/lib/jvm (java on PATH may be older), for tools
# run in source-file mode (`java bench/tools/X.java`); empty when there is none.
newest_jdk() {
  local j v best="" bestv=0
  for j in /usr/lib/jvm/*/bin/java; do
    [ -x "$j" ] || continue
    v="$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"; v=${v%%.*}
    [[ "$v" =~ ^[0-9]+$ ]] && (( v >= 21 && v > bestv )) && { best=$j; bestv=$v; }
  done
  echo "$best"
}

load_average() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }
