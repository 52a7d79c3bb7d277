#!/usr/bin/env python3
# Usage: benches/blocking.py PORT SERVER_PID BLOCKED HANDOFFS (pin the server
# and this script to different CPUs; see bench-results/2026-12-03-blocking.md).
"""Blocking commands, ringcache vs redis-server: idle CPU of N blocked
clients, and the hand-off rate of one BLPOP client woken by one RPUSH client."""
import socket, sys, time, os, threading

def cmd(*a):
    out = b"*%d\r\n" % len(a)
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out

def conn(port):
    s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); return s

def read_reply(f):
    line = f.readline()
    t = line[:1]
    if t in b"+-:": return line
    if t == b"$":
        n = int(line[1:]);
        if n < 0: return None
        d = f.read(n + 2); return d[:-2]
    if t == b"*":
        n = int(line[1:])
        if n < 0: return None
        return [read_reply(f) for _ in range(n)]
    raise Exception(line)

def cpu_ticks(pid):
    f = open("/proc/%d/stat" % pid).read().split(")")[1].split()
    return int(f[11]) + int(f[12])

port, pid, n_blocked, handoffs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
blocked = []
for i in range(n_blocked):
    s = conn(port); s.sendall(cmd("BLPOP", "idle:%d" % i, 0)); blocked.append(s)
time.sleep(1.0)
t0 = cpu_ticks(pid); time.sleep(5.0); t1 = cpu_ticks(pid)
hz = os.sysconf("SC_CLK_TCK")
print("idle %d blocked clients: server CPU %.1f%% over 5 s" % (n_blocked, 100.0 * (t1 - t0) / hz / 5.0))

# Hand-off: the popper BLPOPs; the pusher RPUSHes after reading each pop.
p = conn(port); pf = p.makefile("rb")
q = conn(port); qf = q.makefile("rb")
c0 = cpu_ticks(pid); start = time.time()
for i in range(handoffs):
    p.sendall(cmd("BLPOP", "hand", 0))
    q.sendall(cmd("RPUSH", "hand", i)); read_reply(qf)
    r = read_reply(pf)
    assert r == [b"hand", str(i).encode()], r
el = time.time() - start; c1 = cpu_ticks(pid)
print("hand-off BLPOP<-RPUSH: %d in %.2f s = %.0f/s, server CPU %.1f us per hand-off" % (handoffs, el, handoffs / el, 1e6 * (c1 - c0) / hz / handoffs))
