#!/usr/bin/env bash
# bench/idle-rss.sh: egressd's idle resident memory, as bench/run.sh measures it (one CONNECT
# and one plain HTTP request through the proxy, 2 s idle, then the process's RSS), without
# root and on loopback only: the upstream is `python3 -m http.server` on 127.0.0.1, the
# request targets are IP literals (no name lookup), the DNS upstream is a port nobody answers.
# egressd starts through bin/egressd serve, so with its options and class-data archive.
#
#   bench/idle-rss.sh                                   # shipped options, 3 starts
#   EGRESSD_JAVA_OPTS="..." bench/idle-rss.sh           # other JVM options
#   IDLE_STARTS=5 IDLE_NMT=1 bench/idle-rss.sh          # 5 starts; one more with NMT's summary
#   IDLE_SMAPS=1 bench/idle-rss.sh                      # the largest mappings of the last start
#   IDLE_AFTER='jcmd $EG_PID System.trim_native_heap' bench/idle-rss.sh   # run at idle, then measure
#   IDLE_NMT=detail IDLE_DUMP=dir bench/idle-rss.sh     # NMT detail; the NMT start's smaps, NMT,
#                                                       # threads and heap into dir (bench/idle-map.py
#                                                       # dir: RSS by what each mapping holds)
#
# Prints per start: VmRSS, RssAnon, RssFile (KiB) and the thread count, then the median VmRSS
# in MiB. NMT costs memory itself, so its start is separate and not in the median.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STARTS="${IDLE_STARTS:-3}"
BASE="${IDLE_BASE_PORT:-41000}"
UP_PORT=$((BASE)); PROXY_PORT=$((BASE + 1)); DNS_PORT=$((BASE + 2)); ADMIN_PORT=$((BASE + 3))
DEAD_PORT=$((BASE + 4))

WORK="$(mktemp -d /tmp/egressd-idle.XXXXXX)"
UP_PID=""; EG_PID=""
cleanup() {
  set +e  # wait reports the signal that ended the process
  [ -n "$EG_PID" ] && kill -TERM "$EG_PID" 2>/dev/null && wait "$EG_PID" 2>/dev/null
  [ -n "$UP_PID" ] && kill -TERM "$UP_PID" 2>/dev/null && wait "$UP_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/www" "$WORK/allowlists"
head -c 100 /dev/zero | tr '\0' 'x' > "$WORK/www/small"
cat > "$WORK/allowlists/idle.yaml" <<EOF
server: idle
mode: enforce
allow:
  - cidr: 127.0.0.1/32
    ports: [$UP_PORT]
EOF
cat > "$WORK/egressd.yaml" <<EOF
allowlists: $WORK/allowlists
server: idle
listen:
  http: 127.0.0.1:$PROXY_PORT
  dns: 127.0.0.1:$DNS_PORT
  admin: 127.0.0.1:$ADMIN_PORT
dns:
  upstreams: ["127.0.0.1:$DEAD_PORT"]
audit:
  output: $WORK/audit.log
EOF

python3 -m http.server "$UP_PORT" --bind 127.0.0.1 --directory "$WORK/www" >/dev/null 2>&1 & UP_PID=$!

tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_tcp() { local i; for i in $(seq 1 600); do tcp_open "$1" && return 0; sleep 0.05; done; return 1; }
wait_tcp "$UP_PORT" || { echo "upstream did not start" >&2; exit 1; }

status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# bin/egressd's own options unless EGRESSD_JAVA_OPTS names others.
OPTS="${EGRESSD_JAVA_OPTS:-$(sed -nE 's/^: "\$\{EGRESSD_JAVA_OPTS:=(.*)\}"$/\1/p' "$ROOT/bin/egressd")}"
[ -n "$OPTS" ] || { echo "cannot read the options of bin/egressd" >&2; exit 1; }

# one_start extra_java_opts...: starts egressd (EG_PID), makes the two requests, waits 2 s and
# sets SAMPLE to "vmrss rssanon rssfile threads" (KiB). Runs in this shell, not in $(...).
one_start() {
  EGRESSD_JAVA_OPTS="$OPTS $*" "$ROOT/bin/egressd" serve --config "$WORK/egressd.yaml" \
    > "$WORK/out.log" 2>&1 & EG_PID=$!
  wait_tcp "$PROXY_PORT" || { echo "egressd did not start: $(cat "$WORK/out.log")" >&2; exit 1; }
  curl -sS -o /dev/null --noproxy '' -p -x "http://127.0.0.1:$PROXY_PORT" "http://127.0.0.1:$UP_PORT/small"
  curl -sS -o /dev/null --noproxy '' -x "http://127.0.0.1:$PROXY_PORT" "http://127.0.0.1:$UP_PORT/small"
  sleep 2
  if [ -n "${IDLE_AFTER:-}" ]; then eval "$IDLE_AFTER" > /dev/null; sleep 1; fi
  SAMPLE="$(status "$EG_PID" VmRSS) $(status "$EG_PID" RssAnon) $(status "$EG_PID" RssFile) $(status "$EG_PID" Threads)"
}
stop_egressd() {
  kill -TERM "$EG_PID" 2>/dev/null || true
  wait "$EG_PID" 2>/dev/null || true
  EG_PID=""
}

# The first serve after a build writes the class-data archive as it exits: do that one first,
# so every measured start maps it.
jsa="${EGRESSD_CDS_ARCHIVE:-$ROOT/egressd/target/egressd.jsa}"
if [ "${EGRESSD_CDS:-on}" != off ] && ! { [ -f "$jsa" ] && [ "$jsa" -nt "$ROOT/egressd/target/egressd.jar" ]; }; then
  one_start; stop_egressd
fi

echo "options: $OPTS"
printf '%-6s %8s %8s %8s %7s\n' start VmRSS RssAnon RssFile threads
rss=()
for i in $(seq 1 "$STARTS"); do
  one_start; read -r v a f t <<< "$SAMPLE"
  printf '%-6s %8s %8s %8s %7s\n' "$i" "$v" "$a" "$f" "$t"
  rss+=("$v")
  if [ "$i" = "$STARTS" ] && [ "${IDLE_SMAPS:-0}" = 1 ]; then
    awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 } /^Rss:/ { r[name] += $2 } END { for (n in r) print r[n], (n == "" ? "[anon]" : n) }' \
      "/proc/$EG_PID/smaps" | sort -rn | head -15
  fi
  stop_egressd
done
printf '%s\n' "${rss[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "median VmRSS: %.1f MiB\n", v[int((NR + 1) / 2)] / 1024 }'

if [ "${IDLE_NMT:-0}" != 0 ]; then
  nmt=summary; [ "$IDLE_NMT" = detail ] && nmt=detail
  one_start -XX:NativeMemoryTracking="$nmt"; read -r v a f t <<< "$SAMPLE"
  echo "with NMT: VmRSS $v RssAnon $a RssFile $f threads $t"
  if [ -n "${IDLE_DUMP:-}" ]; then
    mkdir -p "$IDLE_DUMP"; cp "/proc/$EG_PID/smaps" "$IDLE_DUMP/smaps"
    jcmd "$EG_PID" VM.native_memory "$nmt" > "$IDLE_DUMP/nmt.txt"
    jcmd "$EG_PID" Thread.print > "$IDLE_DUMP/threads.txt"
    jcmd "$EG_PID" GC.heap_info > "$IDLE_DUMP/heap.txt"
  fi
  jcmd "$EG_PID" VM.native_memory summary | sed -n '/^Total/,$p' | grep -E '^(Total|-)|committed=' | grep -Ev '^\s+\((malloc|mmap|arena)' || true
  stop_egressd
fi
