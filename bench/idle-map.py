#!/usr/bin/env python3
"""bench/idle-map.py DIR (a directory written by IDLE_NMT=detail IDLE_DUMP=DIR bench/idle-rss.sh):
RSS of an egressd process by what each mapping holds: NMT detail's reserved regions name the JVM's own
mappings (heap, code, metaspace, thread stacks, ...), file mappings are named by file, the rest of the
anonymous memory is malloc's (glibc arenas, large malloc blocks: Netty's direct buffers among them)."""
import re, sys, collections
d = sys.argv[1]
nmt = []
for line in open(d + '/nmt.txt'):
    m = re.match(r'\[0x([0-9a-f]+) - 0x([0-9a-f]+)\] reserved \d+KB for (.+?) from', line)
    if m:
        nmt.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
rss = collections.Counter(); anon = collections.Counter()
cur = None
for line in open(d + '/smaps'):
    m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$', line)
    if m:
        s, name = int(m.group(1), 16), m.group(4).strip()
        cat = None
        for a, b, c in nmt:
            if a <= s < b:
                cat = c; break
        if cat is None:
            cat = 'file ' + name.split('/')[-1] if name.startswith('/') else (name or 'malloc and other anonymous')
        if cat.startswith('file lib') and cat not in ('file libjvm.so',):
            cat = 'file other libraries'
        cur = cat; continue
    k, _, v = line.partition(':')
    if k == 'Rss': rss[cur] += int(v.split()[0])
    if k == 'Anonymous': anon[cur] += int(v.split()[0])
print(f"{'mapping':40s} {'RSS KiB':>8s} {'anon':>8s}")
for c, v in rss.most_common():
    if v: print(f"{c:40s} {v:8d} {anon[c]:8d}")
print(f"{'total':40s} {sum(rss.values()):8d} {sum(anon.values()):8d}")
