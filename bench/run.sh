#!/usr/bin/env bash
# bench/run.sh: egressd against Squid (proxy) and Unbound and dnsmasq (DNS filter), one after
# the other, on this machine's loopback only. Prints one table and writes it, with the
# machine's description, to bench/results/bench-<UTC time>.md. See docs/benchmarks.md.
#
#   sudo bench/run.sh                 # the full run (about 4 minutes)
#   sudo BENCH_QUICK=1 bench/run.sh   # small sizes and short runs, to check the harness
#
# Needs root: it installs missing Debian packages with apt-get, and it runs egressd in a
# private mount namespace whose /etc/resolv.conf names the benchmark's DNS server on
# 127.0.0.153 (the host's own file is not touched; no query leaves loopback).
#
# Knobs (environment): BENCH_QUICK=1, BENCH_SECONDS (per load run), BENCH_BIG_MIB (the large
# response), BENCH_HOLD (tunnels held for the memory figure), BENCH_STARTS (start-ups timed),
# BENCH_KEEP=1 (keep the scratch directory), BENCH_JFR=1 (record egressd with Flight Recorder
# into the scratch directory), BENCH_PEERS=0 (egressd only, while profiling), BENCH_OUT_DIR.
set -euo pipefail
shopt -s nullglob

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  SECONDS_PER_RUN="${BENCH_SECONDS:-3}"; BIG_MIB="${BENCH_BIG_MIB:-64}"
  HOLD="${BENCH_HOLD:-500}"; STARTS="${BENCH_STARTS:-2}"; WARMUP="${BENCH_WARMUP:-1}"
else
  SECONDS_PER_RUN="${BENCH_SECONDS:-10}"; BIG_MIB="${BENCH_BIG_MIB:-512}"
  # A long-running daemon is measured warm: 20 s of the same load first, for every server
  # alike (the JVM's optimizing compiler needs that long to reach the hot paths; C code does not care).
  HOLD="${BENCH_HOLD:-5000}"; STARTS="${BENCH_STARTS:-5}"; WARMUP="${BENCH_WARMUP:-20}"
fi
UPSTREAM_PORT=18080
TESTDNS_ADDR=127.0.0.153
EGRESSD_PORT=13128; EGRESSD_DNS_PORT=15353; EGRESSD_ADMIN_PORT=19464
SQUID_PORT=23128; UNBOUND_PORT=25353; DNSMASQ_PORT=26353
TARGET_HOST=up.bench.example
TARGET="$TARGET_HOST:$UPSTREAM_PORT"
WRK_THREADS=2; WRK_CONNECTIONS=64; TUNNEL_THREADS=16; HOLD_THREADS=8; ALLOWED_NAMES=100

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, mount namespace for egressd's resolv.conf)"

# ---- tools --------------------------------------------------------------------------------
install_missing() {
  local missing=() pair
  for pair in nginx:nginx-light squid:squid unbound:unbound dnsmasq:dnsmasq-base dnsperf:dnsperf \
              wrk:wrk curl:curl javac:openjdk-17-jdk-headless ss:iproute2 unshare:util-linux; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  # Keep the packages' own services from starting (Squid on 3128, nginx on 80, ...).
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; made_policy=1
  fi
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  [ "$made_policy" = 1 ] && rm -f "$policy"
  return 0
}
install_missing
if [ ! -f "$ROOT/egressd/target/egressd.jar" ]; then
  log "building egressd"
  (cd "$ROOT" && mvn -B -q package -DskipTests)
fi

# ---- scratch space and clean-up -----------------------------------------------------------
WORK="$(mktemp -d /tmp/egressd-bench.XXXXXX)"
chmod 755 "$WORK"
declare -A PIDS=()
stop() { # name
  local pid="${PIDS[$1]:-}"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "PIDS[$1]"
}
cleanup() {
  local name
  for name in "${!PIDS[@]}"; do stop "$name"; done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

render() { # template output [extra sed expressions...]
  local template="$1" out="$2"; shift 2
  sed -e "s|@WORK@|$WORK|g" -e "s|@UPSTREAM_PORT@|$UPSTREAM_PORT|g" -e "s|@TESTDNS_ADDR@|$TESTDNS_ADDR|g" \
      "$@" "$template" > "$out"
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_tcp() { # port timeout_s
  local deadline=$(( $(now_ms) + $2 * 1000 ))
  until tcp_open "$1"; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.002
  done
}
wait_udp() { # addr:port timeout_s
  local deadline=$(( $(now_ms) + $2 * 1000 ))
  until ss -lnu | awk '{print $4}' | grep -qx "$1"; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.02
  done
}

# Resident memory of a process and all its descendants, in KiB.
rss_kib() {
  ps -e -o pid=,ppid=,rss= | awk -v root="$1" '
    { parent[$1] = $2; rss[$1] = $3 }
    END {
      inside[root] = 1; changed = 1
      while (changed) { changed = 0; for (p in parent) if (!(p in inside) && (parent[p] in inside)) { inside[p] = 1; changed = 1 } }
      for (p in inside) total += rss[p]; print total + 0 }'
}

# CPU time (user + system) of a process and its descendants, in milliseconds.
cpu_ms() {
  local tick; tick=$(getconf CLK_TCK)
  ps -e -o pid=,ppid= | awk -v root="$1" -v tick="$tick" '
    { parent[$1] = $2 }
    END {
      inside[root] = 1; changed = 1
      while (changed) { changed = 0; for (p in parent) if (!(p in inside) && (parent[p] in inside)) { inside[p] = 1; changed = 1 } }
      for (p in inside) { f = "/proc/" p "/stat"; if ((getline line < f) > 0) { sub(/^.*\) /, "", line); split(line, a, " "); total += a[12] + a[13] } close(f) }
      printf "%.0f", total * 1000 / tick }'
}
# Logs the server's CPU cost per operation: what limits a figure on a shared or small machine.
# Also written to $WORK/cpu.txt for the second table (callers run in $(...) subshells).
cpu_per_op() { # label cpu_before_ms ops
  local after per; after=$(cpu_ms "$SERVER_PID")
  per=$(awk -v a="$2" -v b="$after" -v n="$3" 'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1000 / n; else print "-" }')
  log "  $1: $per µs server CPU per op ($3 ops)"
  echo "$SERVER_NAME.$1 $per" >> "$WORK/cpu.txt"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- the fixed parts: upstream, test DNS, the client ----------------------------------------
start_upstream() {
  mkdir -p "$WORK/nginx/tmp" "$WORK/www"
  head -c 100 /dev/zero | tr '\0' 'x' > "$WORK/www/small"
  truncate -s "${BIG_MIB}M" "$WORK/www/big"
  render "$BENCH/conf/nginx.conf" "$WORK/nginx/nginx.conf"
  nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" & PIDS[nginx]=$!
  wait_tcp "$UPSTREAM_PORT" 10 || die "nginx did not start: $(cat "$WORK/nginx/error.log")"
}

start_test_dns() {
  mkdir -p "$WORK/unbound-test"
  local data="" i
  for i in $(seq 1 "$ALLOWED_NAMES"); do
    data+="    local-data: \"a$i.ok.bench.example. 3600 IN A 127.0.0.1\""$'\n'
  done
  render "$BENCH/conf/unbound-test.conf" "$WORK/unbound-test/unbound.conf"
  # The names are appended in place of the @LOCAL_DATA@ line.
  awk -v data="$data" '$1 == "@LOCAL_DATA@" { printf "%s", data; next } { print }' \
      "$WORK/unbound-test/unbound.conf" > "$WORK/unbound-test/u.conf"
  unbound -d -c "$WORK/unbound-test/u.conf" > "$WORK/unbound-test/out.log" 2>&1 & PIDS[testdns]=$!
  wait_udp "$TESTDNS_ADDR:53" 10 || die "test Unbound did not start: $(cat "$WORK/unbound-test/out.log")"
  printf 'nameserver %s\noptions attempts:1 timeout:2\n' "$TESTDNS_ADDR" > "$WORK/resolv.conf"
}

build_client() {
  mkdir -p "$WORK/client"
  javac -d "$WORK/client" "$BENCH/Tunnels.java"
}
tunnels() { java -XX:+UseSerialGC -Xss256k -cp "$WORK/client" Tunnels "$@"; }

# ---- the proxies ------------------------------------------------------------------------------
start_egressd() {
  mkdir -p "$WORK/egressd/allowlists"
  local -a expr=(-e "s|@PORT@|$EGRESSD_PORT|g" -e "s|@DNS_PORT@|$EGRESSD_DNS_PORT|g"
                 -e "s|@ADMIN_PORT@|$EGRESSD_ADMIN_PORT|g")
  render "$BENCH/conf/egressd.yaml" "$WORK/egressd/egressd.yaml" "${expr[@]}"
  render "$BENCH/conf/allowlists/bench.yaml" "$WORK/egressd/allowlists/bench.yaml"
  local -a tool_env=()
  if [ "${BENCH_JFR:-0}" = 1 ]; then
    tool_env=(JAVA_TOOL_OPTIONS="-XX:StartFlightRecording=filename=$WORK/egressd-$(date +%s).jfr,settings=profile,dumponexit=true")
  fi
  # A private mount namespace in which /etc/resolv.conf names the test DNS server: egressd's
  # proxy resolves through the system resolver, like a deployed egressd. exec keeps the pid.
  env "${tool_env[@]}" unshare --mount --propagation private \
    sh -c 'mount --bind "$1" /etc/resolv.conf && exec "$2" serve --config "$3"' sh \
    "$WORK/resolv.conf" "$ROOT/bin/egressd" "$WORK/egressd/egressd.yaml" \
    >> "$WORK/egressd/out.log" 2>&1 &
  PIDS[proxy]=$!
}

start_squid() {
  mkdir -p "$WORK/squid"
  render "$BENCH/conf/squid.conf" "$WORK/squid/squid.conf" -e "s|@PORT@|$SQUID_PORT|g"
  chown -R proxy:proxy "$WORK/squid" 2>/dev/null || true
  squid -N -f "$WORK/squid/squid.conf" >> "$WORK/squid/out.log" 2>&1 &
  PIDS[proxy]=$!
}

# Milliseconds from starting the process to its first accepted connection, median of $STARTS,
# into READY_MS. (Functions that start processes run in this shell, never in $(...), so the
# clean-up knows every pid.)
time_startup() { # start_fn port
  local i t0 times=()
  for i in $(seq 1 "$STARTS"); do
    t0=$(now_ms)
    "$1"
    wait_tcp "$2" 30 || die "$1: not listening after 30 s"
    times+=($(( $(now_ms) - t0 )))
    stop proxy
    sleep 0.5
  done
  READY_MS=$(printf '%s\n' "${times[@]}" | median)
}

# Downloads of the large response for $WARMUP seconds (at least one), not measured: like the
# other loads, the tunnel is measured warm.
warm_throughput() { # curl proxy args...
  local deadline=$(( $(now_ms) + WARMUP * 1000 ))
  curl -sS -o /dev/null --noproxy '' "$@" "http://$TARGET/big"
  while [ "$(now_ms)" -lt "$deadline" ]; do
    curl -sS -o /dev/null --noproxy '' "$@" "http://$TARGET/big"
  done
}

# Best of three downloads of the large response, MiB/s.
throughput() { # curl proxy args...
  local i best=0 speed
  for i in 1 2 3; do
    speed=$(curl -sS -o /dev/null --noproxy '' -w '%{speed_download}' "$@" "http://$TARGET/big")
    best=$(awk -v a="$best" -v b="$speed" 'BEGIN { print (b > a ? b : a) }')
  done
  awk -v b="$best" 'BEGIN { printf "%.0f", b / 1048576 }'
}

keepalive() { # proxy_port -> "req/s p99_ms"
  local url="http://127.0.0.1:$1/"
  BENCH_TARGET="http://$TARGET/small" wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WARMUP}s" \
    -s "$BENCH/absolute.lua" "$url" > /dev/null
  local cpu; cpu=$(cpu_ms "$SERVER_PID")
  BENCH_TARGET="http://$TARGET/small" wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${SECONDS_PER_RUN}s" \
    --latency -s "$BENCH/absolute.lua" "$url" > "$WORK/wrk-$1.txt"
  cpu_per_op keepalive "$cpu" "$(awk '/requests in/ { print $1 }' "$WORK/wrk-$1.txt")"
  local non2xx
  non2xx=$(awk '/Non-2xx or 3xx responses/ { print $NF }' "$WORK/wrk-$1.txt")
  [ -z "$non2xx" ] || die "wrk through port $1: $non2xx non-2xx responses: $(cat "$WORK/wrk-$1.txt")"
  awk '/^Requests\/sec/ { rps = $2 }
       $1 == "99%" { v = $2; if (v ~ /us$/) ms = v / 1000; else if (v ~ /ms$/) ms = v + 0; else ms = v * 1000 }
       END { printf "%.0f %.2f\n", rps, ms }' "$WORK/wrk-$1.txt"
}

new_tunnels() { # proxy_port -> tunnels/s
  local line cpu
  # The warm-up is a client run of its own, so that the CPU read around the measured one is its own.
  tunnels rate "$1" "$TARGET" "$TUNNEL_THREADS" 0 "$WARMUP" > /dev/null
  cpu=$(cpu_ms "$SERVER_PID")
  line=$(tunnels rate "$1" "$TARGET" "$TUNNEL_THREADS" 0 "$SECONDS_PER_RUN")
  log "  new tunnels: $line"
  cpu_per_op new_tunnel "$cpu" "$(echo "$line" | sed -E 's/.*ok=([0-9]+).*/\1/')"
  echo "$line" | sed -E 's/^rate=([0-9.]+).*/\1/' | awk '{ printf "%.0f", $1 }'
}

# Idle RSS, then RSS with $HOLD tunnels open, into IDLE_KIB and PER_TUNNEL_KIB.
memory() { # proxy_port pid
  curl -sS -o /dev/null --noproxy '' -p -x "http://127.0.0.1:$1" "http://$TARGET/small"
  curl -sS -o /dev/null --noproxy '' -x "http://127.0.0.1:$1" "http://$TARGET/small"
  sleep 2
  local idle held
  idle=$(rss_kib "$2")
  mkfifo "$WORK/hold.in"
  tunnels hold "$1" "$TARGET" "$HOLD" "$HOLD_THREADS" < "$WORK/hold.in" > "$WORK/hold.out" 2>&1 &
  PIDS[client]=$!
  exec 4> "$WORK/hold.in"
  local deadline=$(( $(now_ms) + 120000 ))
  until grep -Eq '^held=[0-9]+ errors=[0-9]+$' "$WORK/hold.out"; do
    [ "$(now_ms)" -lt "$deadline" ] || die "tunnels not held after 120 s: $(cat "$WORK/hold.out")"
    sleep 0.2
  done
  local opened
  opened=$(sed -nE 's/^held=([0-9]+).*/\1/p' "$WORK/hold.out")
  log "  $(cat "$WORK/hold.out")"
  [ "$opened" -gt 0 ] || die "no tunnel held: $(cat "$WORK/hold.out")"
  sleep 2
  held=$(rss_kib "$2")
  exec 4>&-
  wait "${PIDS[client]}" || true
  unset 'PIDS[client]'
  rm -f "$WORK/hold.in"
  sleep 3
  IDLE_KIB=$idle
  PER_TUNNEL_KIB=$(awk -v a="$idle" -v b="$held" -v n="$opened" 'BEGIN { printf "%.1f", (b - a) / n }')
}

bench_proxy() { # name start_fn port
  local name="$1" start="$2" port="$3"
  log "$name: start-up ($STARTS starts)"
  time_startup "$start" "$port"
  R["$name.ready"]=$READY_MS
  "$start"
  wait_tcp "$port" 30 || die "$name did not start"
  SERVER_PID=${PIDS[proxy]}; SERVER_NAME=$name
  log "$name: memory, idle and with $HOLD tunnels"
  memory "$port" "${PIDS[proxy]}"
  R["$name.idle"]=$(awk -v k="$IDLE_KIB" 'BEGIN { printf "%.1f", k / 1024 }')
  R["$name.pertunnel"]=$PER_TUNNEL_KIB
  log "$name: CONNECT throughput"
  warm_throughput -p -x "http://127.0.0.1:$port"
  local cpu; cpu=$(cpu_ms "$SERVER_PID")
  R["$name.tput"]=$(throughput -p -x "http://127.0.0.1:$port")
  cpu_per_op tunnel_mib "$cpu" $(( BIG_MIB * 3 ))
  log "$name: keep-alive requests"
  local rps_p99
  rps_p99=$(keepalive "$port")
  R["$name.rps"]=${rps_p99% *}; R["$name.p99"]=${rps_p99#* }
  log "$name: new tunnels"
  R["$name.tunnels"]=$(new_tunnels "$port")
}

# ---- DNS ------------------------------------------------------------------------------------------
make_query_files() {
  local i
  for i in $(seq 1 "$ALLOWED_NAMES"); do echo "a$i.ok.bench.example A"; done > "$WORK/allowed.txt"
  awk 'BEGIN { srand(8); for (i = 0; i < 100000; i++) printf "x%08x%04x.denied.example A\n", int(rand() * 4294967295), i }' \
      > "$WORK/denied.txt"
}

dnsperf_qps() { # port file seconds
  local cpu; cpu=$(cpu_ms "$SERVER_PID")
  dnsperf -s 127.0.0.1 -p "$1" -d "$2" -l "$3" -c 4 -q 256 > "$WORK/dnsperf.txt" 2>&1 \
    || die "dnsperf: $(cat "$WORK/dnsperf.txt")"
  cpu_per_op "dns_$(basename "$2" .txt)" "$cpu" "$(awk '/Queries completed:/ { print $3 }' "$WORK/dnsperf.txt")"
  awk '/Queries per second:/ { printf "%.0f", $4 }' "$WORK/dnsperf.txt"
}

bench_dns() { # name port
  log "$1: DNS, cached allowed names, then random denied names"
  dnsperf_qps "$2" "$WORK/allowed.txt" "$WARMUP" > /dev/null
  grep -q 'NOERROR' "$WORK/dnsperf.txt" || die "$1: allowed names not answered NOERROR: $(cat "$WORK/dnsperf.txt")"
  R["$1.dns_cached"]=$(dnsperf_qps "$2" "$WORK/allowed.txt" "$SECONDS_PER_RUN")
  # Denied names warm up too; every server answers them locally, so that dnsperf starts the file
  # again (and loops over it) changes nothing.
  dnsperf_qps "$2" "$WORK/denied.txt" "$WARMUP" > /dev/null
  R["$1.dns_denied"]=$(dnsperf_qps "$2" "$WORK/denied.txt" "$SECONDS_PER_RUN")
  grep -q 'NXDOMAIN' "$WORK/dnsperf.txt" || die "$1: denied names not answered NXDOMAIN: $(cat "$WORK/dnsperf.txt")"
}

start_unbound_filter() {
  mkdir -p "$WORK/unbound-filter"
  render "$BENCH/conf/unbound-filter.conf" "$WORK/unbound-filter/unbound.conf" \
      -e "s|@PORT@|$UNBOUND_PORT|g" -e "s|@THREADS@|$(nproc)|g"
  unbound -d -c "$WORK/unbound-filter/unbound.conf" > "$WORK/unbound-filter/out.log" 2>&1 & PIDS[dns]=$!
  wait_udp "127.0.0.1:$UNBOUND_PORT" 10 || die "Unbound did not start: $(cat "$WORK/unbound-filter/out.log")"
}

start_dnsmasq() {
  mkdir -p "$WORK/dnsmasq"
  # Names under ok.bench.example go to the test server; --address=/#/ answers every other
  # name NXDOMAIN locally. No /etc/hosts, no resolv.conf, a cache as large as egressd's.
  dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
    --listen-address=127.0.0.1 --bind-interfaces --port="$DNSMASQ_PORT" --user=root \
    --pid-file="$WORK/dnsmasq/pid" --cache-size=10000 --dns-forward-max=1000 \
    --server="/ok.bench.example/$TESTDNS_ADDR" --address=/#/ \
    > "$WORK/dnsmasq/out.log" 2>&1 & PIDS[dns]=$!
  wait_udp "127.0.0.1:$DNSMASQ_PORT" 10 || die "dnsmasq did not start: $(cat "$WORK/dnsmasq/out.log")"
}

# ---- the run --------------------------------------------------------------------------------------
# Every port must be free: a process left over from an earlier run would share or take the
# load (Unbound and nginx can share a port with SO_REUSEPORT).
busy=$(ss -Htlnu | awk '{ print $5 }' | grep -Ex "(127\.0\.0\.1|0\.0\.0\.0|\*|\[::\]):($UPSTREAM_PORT|$EGRESSD_PORT|$EGRESSD_DNS_PORT|$EGRESSD_ADMIN_PORT|$SQUID_PORT|$UNBOUND_PORT|$DNSMASQ_PORT)|(${TESTDNS_ADDR//./\\.}|0\.0\.0\.0|\*|\[::\]):53" || true)
[ -z "$busy" ] || die "in use, stop what listens there first: $(echo "$busy" | tr '\n' ' ')"
ulimit -n "$(ulimit -Hn)"
touch "$WORK/cpu.txt"
declare -A R=([squid.tput]=- [squid.rps]=- [squid.p99]=- [squid.tunnels]=- [squid.idle]=- [squid.pertunnel]=- [squid.ready]=- [unbound.dns_cached]=- [unbound.dns_denied]=- [dnsmasq.dns_cached]=- [dnsmasq.dns_denied]=-)
STARTED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
LOAD_AT_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "scratch $WORK; ${SECONDS_PER_RUN}s runs, ${BIG_MIB} MiB response, $HOLD held tunnels"
start_upstream
start_test_dns
build_client
make_query_files

log "direct: throughput without a proxy"
R[direct.tput]=$(throughput --resolve "$TARGET:127.0.0.1")

bench_proxy egressd start_egressd "$EGRESSD_PORT"
SERVER_PID=${PIDS[proxy]}; SERVER_NAME=egressd; bench_dns egressd "$EGRESSD_DNS_PORT"
grep -q '"event"' "$WORK/egressd/audit.log" || die "egressd wrote no audit events"
stop proxy

if [ "${BENCH_PEERS:-1}" = 1 ]; then
  bench_proxy squid start_squid "$SQUID_PORT"
  stop proxy

  start_unbound_filter; SERVER_PID=${PIDS[dns]}; SERVER_NAME=unbound; bench_dns unbound "$UNBOUND_PORT"; stop dns
  start_dnsmasq; SERVER_PID=${PIDS[dns]}; SERVER_NAME=dnsmasq; bench_dns dnsmasq "$DNSMASQ_PORT"; stop dns
fi

# ---- the table -----------------------------------------------------------------------------------
# row label egressd peer_name peer_value target_kind target
#   target_kind: min_ratio (egressd/peer >= target), max_ratio (<= target), max_abs (egressd <= target),
#   none (for information)
row() {
  awk -v label="$1" -v e="$2" -v pn="$3" -v p="$4" -v kind="$5" -v t="$6" 'BEGIN {
    ratio = (p + 0 > 0) ? sprintf("%.2fx", e / p) : "-"
    if (kind == "min_ratio") { goal = ">= " t "x"; met = (p > 0 && e / p >= t) ? "yes" : "NO" }
    else if (kind == "max_ratio") { goal = "<= " t "x"; met = (p > 0 && e / p <= t) ? "yes" : "NO" }
    else if (kind == "max_abs") { goal = "<= " t; met = (e + 0 <= t) ? "yes" : "NO" }
    else { goal = "-"; met = "-" }
    printf "| %s | %s | %s %s | %s | %s | %s |\n", label, e, pn, p, ratio, goal, met }'
}
TABLE="$WORK/table.md"
{
  echo "| measure | egressd | peer | egressd/peer | target | met |"
  echo "|---|---|---|---|---|---|"
  row "CONNECT tunnel throughput, MiB/s (direct: ${R[direct.tput]})" "${R[egressd.tput]}" Squid "${R[squid.tput]}" min_ratio 1.2
  row "keep-alive requests/s (wrk, $WRK_CONNECTIONS connections)" "${R[egressd.rps]}" Squid "${R[squid.rps]}" min_ratio 1.5
  row "keep-alive p99 latency, ms" "${R[egressd.p99]}" Squid "${R[squid.p99]}" none -
  row "new tunnels/s, one small request each" "${R[egressd.tunnels]}" Squid "${R[squid.tunnels]}" min_ratio 1.2
  row "resident memory idle, MiB" "${R[egressd.idle]}" Squid "${R[squid.idle]}" max_abs 80
  row "resident memory per held tunnel, KiB ($HOLD tunnels)" "${R[egressd.pertunnel]}" Squid "${R[squid.pertunnel]}" max_ratio 0.5
  row "start to first accepted connection, ms (median of $STARTS)" "${R[egressd.ready]}" Squid "${R[squid.ready]}" max_abs 1500
  row "DNS queries/s, cached allowed names" "${R[egressd.dns_cached]}" Unbound "${R[unbound.dns_cached]}" min_ratio 0.7
  row "DNS queries/s, cached allowed names" "${R[egressd.dns_cached]}" dnsmasq "${R[dnsmasq.dns_cached]}" none -
  row "DNS queries/s, random denied names" "${R[egressd.dns_denied]}" Unbound "${R[unbound.dns_denied]}" min_ratio 0.7
  row "DNS queries/s, random denied names" "${R[egressd.dns_denied]}" dnsmasq "${R[dnsmasq.dns_denied]}" none -
} > "$TABLE"
# Server CPU (user + system, the process and its children) per operation: what each figure
# costs, which holds better than the rates when other work shares the machine. The last
# record of a label wins (the DNS warm-up is recorded first).
cpu_of() { awk -v k="$1" '$1 == k { v = $2 } END { print (v == "" ? "-" : v) }' "$WORK/cpu.txt"; }
{
  echo
  echo "Server CPU time per operation, µs (lower is better):"
  echo
  echo "| operation | egressd | peer | egressd/peer |"
  echo "|---|---|---|---|"
  for pair in "tunnel_mib:one MiB through a CONNECT tunnel:squid:Squid" \
              "keepalive:one keep-alive request:squid:Squid" \
              "new_tunnel:one new tunnel with its request:squid:Squid" \
              "dns_allowed:one DNS query, cached allowed name:unbound:Unbound" \
              "dns_allowed:one DNS query, cached allowed name:dnsmasq:dnsmasq" \
              "dns_denied:one DNS query, random denied name:unbound:Unbound" \
              "dns_denied:one DNS query, random denied name:dnsmasq:dnsmasq"; do
    IFS=: read -r key label peer peer_label <<< "$pair"
    e=$(cpu_of "egressd.$key"); p=$(cpu_of "$peer.$key")
    awk -v l="$label" -v e="$e" -v p="$p" -v pl="$peer_label" 'BEGIN {
      printf "| %s | %s | %s %s | %s |\n", l, e, pl, p, (p + 0 > 0 && e + 0 > 0) ? sprintf("%.2fx", e / p) : "-" }'
  done
} >> "$TABLE"

OUT_DIR="${BENCH_OUT_DIR:-$BENCH/results}"
mkdir -p "$OUT_DIR"
OUT="$OUT_DIR/bench-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# bench/run.sh, $STARTED_AT"
  echo
  echo "Command: \`$( [ "${BENCH_QUICK:-0}" = 1 ] && printf 'BENCH_QUICK=1 ')bench/run.sh\`" \
       "(${SECONDS_PER_RUN}s load runs, ${BIG_MIB} MiB response, $HOLD held tunnels)"
  echo
  echo "Machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
       "$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
  echo
  echo "\`uname -a\`: $(uname -a)"
  echo
  echo "Load average (1, 5, 15 min) at the start: $LOAD_AT_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)" \
       "(above 0 means other work shared the CPUs: read the CPU-per-operation table)"
  echo
  echo "egressd $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), JVM options:" \
       "\`${EGRESSD_JAVA_OPTS:-$(sed -nE 's/^: "\$\{EGRESSD_JAVA_OPTS:=(.*)\}"$/\1/p' "$ROOT/bin/egressd")}\`$([ -n "${EGRESSD_JAVA_OPTS:-}" ] && echo ' (EGRESSD_JAVA_OPTS)');" \
       "$(java -version 2>&1 | head -1); Squid $(squid -v | sed -nE 's/.*Version ([^ ]+).*/\1/p');" \
       "Unbound $(unbound -V | sed -nE 's/^Version (.*)/\1/p'); dnsmasq $(dnsmasq -v | sed -nE 's/^Dnsmasq version ([^ ]+).*/\1/p');" \
       "nginx $(nginx -v 2>&1 | sed 's|.*/||'); wrk; dnsperf $(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null)"
  echo
  cat "$TABLE"
} > "$OUT"
echo
cat "$OUT"
log "written to $OUT"
