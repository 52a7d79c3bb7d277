#!/usr/bin/env python3
"""Render the output of benches/cluster.sh: Markdown report, CSV, SVG chart.

Reads the raw files cluster.sh leaves in its work dir:
  runs.csv      one row per redis-benchmark process (a spread point has three)
  meta.tsv      machine / version / settings (key<TAB>value)
  nodes.tsv     every server process: cluster, name, role, port, bus port, pid
  commands.txt  every command as run (deduplicated here)
and writes into --out-dir:
  YYYY-MM-DD-cluster.md / .csv / .svg

Standard library only; the formatting and SVG helpers come from report.py.
"""

import argparse
import csv
import os
import statistics
import sys
from collections import OrderedDict
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import (  # noqa: E402  (report.py sits next to this file)
    SVG_STYLE, fmt_ms, fmt_ratio, fmt_rps, fmt_us, order_key, ratio,
    read_meta, svg_panel,
)

# Measured setups, in table order.
SERIES = ("redis-aware", "rc-aware", "rc-spread")
LABELS = {
    "redis-aware": "Redis Cluster, cluster client",
    "rc-aware": "ringcache redis-cluster, cluster client",
    "rc-spread": "ringcache proxy, 3 plain clients",
}
SHORT = {"redis-aware": "Redis Cluster · --cluster", "rc-aware": "ringcache · --cluster",
         "rc-spread": "ringcache proxy · 3 plain"}
COLORS = {"redis-aware": "#e03131", "rc-aware": "#1c7ed6", "rc-spread": "#74c0fc"}
# (label, numerator series, denominator series)
RATIOS = (
    ("ringcache ÷ Redis Cluster (cluster client)", "rc-aware", "redis-aware"),
    ("proxy spread ÷ cluster client (ringcache)", "rc-spread", "rc-aware"),
    ("proxy spread ÷ Redis Cluster", "rc-spread", "redis-aware"),
)


# ------------------------------------------------------------------ loading --
def read_procs(path):
    procs = []
    with open(path) as f:
        for r in csv.DictReader(f):
            for k in ("pipeline", "repeat", "proc", "procs", "requests", "clients",
                      "server_cpu_ticks", "other_cpu_ticks", "clk_tck"):
                r[k] = int(r[k])
            for k in ("rps", "avg_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms",
                      "wall_s", "client_user_s", "client_sys_s"):
                r[k] = float(r[k])
            procs.append(r)
    return procs


def read_nodes(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def points(procs):
    """One row per measured point: the client processes of a point combined.

    rps is the sum of the processes' own rps (they run at once); p50/p99 are
    the worst process's; rps_wall (all requests ÷ the point's wall time, from
    starting the first client to reaping the last) is a lower bound on the
    sum, there to show the clients really overlapped.
    """
    groups = OrderedDict()
    for r in procs:
        groups.setdefault((r["series"], r["test"], r["pipeline"], r["repeat"]), []).append(r)
    out = []
    for (series, test, pl, rep), rs in groups.items():
        first = rs[0]
        n = sum(r["requests"] for r in rs)
        wall, clk = first["wall_s"], first["clk_tck"]
        ticks, other = first["server_cpu_ticks"], first["other_cpu_ticks"]
        client_cpu = first["client_user_s"] + first["client_sys_s"]
        out.append({
            "record": "point", "series": series, "server": first["server"], "client": first["client"],
            "test": test, "pipeline": pl, "repeat": rep, "procs": len(rs), "requests": n,
            "clients": sum(r["clients"] for r in rs),
            "rps": sum(r["rps"] for r in rs),
            "rps_wall": n / wall if wall > 0 else 0.0,
            "p50_ms": max(r["p50_ms"] for r in rs),
            "p99_ms": max(r["p99_ms"] for r in rs),
            "max_ms": max(r["max_ms"] for r in rs),
            "wall_s": wall, "server_cpu_ticks": ticks, "other_cpu_ticks": other, "clk_tck": clk,
            "client_user_s": first["client_user_s"], "client_sys_s": first["client_sys_s"],
            "cpu_us_per_req": ticks * 1e6 / clk / n if n else float("nan"),
            "server_cpu_pct": 100.0 * ticks / clk / wall if wall > 0 else 0.0,
            "other_cpu_pct": 100.0 * other / clk / wall if wall > 0 else 0.0,
            "client_cpu_pct": 100.0 * client_cpu / wall if wall > 0 else 0.0,
        })
    return out


def summarize(pts):
    """Median of every column over the repeats, per (test, pipeline, series)."""
    groups = OrderedDict()
    for p in pts:
        groups.setdefault((p["test"], p["pipeline"], p["series"]), []).append(p)
    out = OrderedDict()
    for key, ps in groups.items():
        rps = [p["rps"] for p in ps]
        med = statistics.median(rps)
        row = {"n": len(ps), "rps": med,
               "rps_spread_pct": 100.0 * (max(rps) - min(rps)) / med if med else 0.0}
        for k in ("rps_wall", "p50_ms", "p99_ms", "cpu_us_per_req", "server_cpu_pct",
                  "client_cpu_pct", "other_cpu_pct", "requests", "wall_s"):
            row[k] = statistics.median(p[k] for p in ps)
        out[key] = row
    return out


def sorted_groups(summary):
    return sorted({(t, p) for (t, p, s) in summary}, key=lambda tp: (order_key(tp[0]), tp[1]))


# ----------------------------------------------------------------- markdown --
def markdown(meta, nodes, summary, pts, commands, svg_name):
    quick = meta.get("quick") == "1"
    keys, nn = int(meta["keys_per_node"]), int(meta["nodes"])
    rc_args = meta.get("ringcache_cluster_args", "").strip()
    L = []
    L.append(f"# ringcache cluster vs Redis Cluster — {meta['date']}")
    L.append("")
    if quick:
        L.append("> **QUICK=1 smoke run** — tiny request counts; these numbers only show the")
        L.append("> pipeline works and say nothing about performance.")
        L.append("")
    L.append("## Machine")
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    for label, key in [
        ("CPUs (nproc)", "nproc"),
        ("CPU model", "cpu_model"),
        ("kernel", "kernel"),
        ("load average before the run", "loadavg_start"),
        ("redis-server", "redis_server"),
        ("redis-benchmark", "redis_benchmark"),
        ("ringcache commit", "ringcache_commit"),
        ("ringcache binary", "ringcache_bin"),
        ("ringcache --version", "ringcache_version"),
    ]:
        L.append(f"| {label} | {escape(meta.get(key, '') or '—')} |")
    L.append(f"| ringcache node arguments (`RINGCACHE_CLUSTER_ARGS`) | "
             f"{'`' + escape(rc_args) + '`' if rc_args else '*(none)*'} |")
    L.append(f"| ringcache `--threads` per node | {meta.get('rc_threads')} |")
    L.append("")

    L.append("## Clusters")
    L.append("")
    L.append("All on 127.0.0.1 of this one machine, on free ports, unpinned (no `taskset`), "
             "and all running for the whole benchmark: the two clusters not being measured sit idle.")
    L.append("")
    L.append("| cluster | node | role | port | bus port |")
    L.append("|---|---|---|---:|---:|")
    for n in nodes:
        L.append(f"| {n['cluster']} | {n['name']} | {n['role']} | {n['port']} | {n['bus_port']} |")
    L.append("")

    L.append("## Method")
    L.append("")
    L.append(f"- **Setups.** *Redis Cluster*: {nn} primaries + {nn} replicas (`redis-cli --cluster create "
             "... --cluster-replicas 1`), persistence off. *ringcache redis-cluster*: three ringcache nodes "
             "in `--cluster-mode redis-cluster`. *ringcache proxy*: three more in `--cluster-mode proxy`. "
             "The script waited for `cluster_state:ok` on every node (and, for Redis, for every replica's "
             "link to be up) before loading.")
    L.append(f"- **Cluster client**: one `redis-benchmark --cluster` process, {meta['clients']} connections "
             "spread round-robin over the primaries, each connection sending straight to its node.")
    L.append(f"- **Plain clients (proxy)**: three `redis-benchmark` processes at once, one per ringcache proxy "
             f"node, each with a third of the {meta['clients']} connections and of the requests. About two "
             "thirds of each node's keys live on the other nodes, so it forwards them. rps is the **sum** "
             "of the three; p50/p99 are the **worst** of the three.")
    L.append("- **No plain clients against Redis Cluster**: a plain client gets `-MOVED` for the ~2/3 of keys "
             "that live on another primary, and redis-benchmark 7.0 exits on the first error reply — there "
             "is nothing meaningful to measure.")
    L.append(f"- **Keys.** redis-benchmark `--cluster` sends `key:{{TAG}}:__rand_int__`, where this version "
             "takes TAG from each primary's first slot, so every key a primary gets is in one slot. The "
             f"script found the prefixes with a probe and preloaded {keys:,} keys per primary "
             f"(`-r {keys}`): Redis `{escape(meta.get('redis_prefixes', ''))}`, ringcache "
             f"`{escape(meta.get('rcc_prefixes', ''))}`. The proxy cluster holds {keys * nn:,} plain keys "
             f"`key:%012d` (`-r {keys * nn}`), the same total, spread over its nodes by hash. Values are "
             f"{meta['value_size']} bytes. DBSIZE was checked on every node after the preload (replicas too) "
             f"and again after the run; GET misses counted by the nodes: {escape(meta.get('get_misses', '?'))}.")
    L.append(f"- **Order.** Setups alternate point by point, the order rotates every repeat, and every point "
             f"is run {meta['repeats']}×; the table shows the **median** of each column. Requests per "
             f"point: {escape(meta.get('requests', ''))}.")
    L.append("- **cpu µs/req** = utime+stime of all the measured cluster's server processes (for Redis: "
             "the replicas too) over the point ÷ requests. **server CPU** and **client CPU** are "
             "percent of one core over the point's wall time (2 cores = 200%).")
    L.append("- Ratio rows: rps above 1.00× and p50/p99/cpu below 1.00× favour the numerator.")
    L.append("")
    L.append("Read with this in mind:")
    L.append("")
    L.append(f"- Everything shares the machine's {meta.get('nproc')} cores: servers and load generators "
             "compete for CPU, so these numbers are about efficiency on a shared box, not about a "
             "cluster's capacity. When server CPU + client CPU is near 200%, the machine, not one server, "
             "set the rps; cpu µs/req is then the number to compare.")
    args = f" with `{escape(rc_args)}`" if rc_args else " with its defaults (`replicas 3`, `write-quorum 2`)"
    L.append(f"- **Durability differs.** ringcache ran{args}: a SET is answered once that many owners "
             "hold it. Redis Cluster keeps 2 copies and answers a SET before its replica has it "
             "(asynchronous replication). GET does not replicate.")
    aware_walls = [p["wall_s"] for p in pts if p["client"] == "aware" and p["wall_s"] > 0]
    worst = f" (in this run: up to {100 * 0.25 / min(aware_walls):.0f}% of a point)" if aware_walls else ""
    L.append("- In cluster mode redis-benchmark runs one thread per primary, and its threads check for the "
             "end of the run only every 250 ms, so a cluster-client point's elapsed time is rounded up to "
             f"a multiple of 250 ms{worst}. That lowers both cluster-client rows' rps a little, alike, and "
             "slightly flatters the proxy-spread ratios.")
    L.append("")

    L.append("## Results")
    L.append("")
    L.append("| test | pipeline | setup | rps | p50 ms | p99 ms | cpu µs/req | server CPU | client CPU | rps spread |")
    L.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    overlap = []
    for test, pl in sorted_groups(summary):
        rows = {s: summary.get((test, pl, s)) for s in SERIES}
        for s in SERIES:
            r = rows[s]
            if r is None:
                continue
            if r["rps_wall"] < 0.9 * r["rps"]:
                overlap.append(f"{test} P{pl} {SHORT[s]} ({fmt_rps(r['rps_wall'])})")
            L.append(f"| {test} | {pl} | {LABELS[s]} | {fmt_rps(r['rps'])} | {fmt_ms(r['p50_ms'])} | "
                     f"{fmt_ms(r['p99_ms'])} | {fmt_us(r['cpu_us_per_req'])} | {r['server_cpu_pct']:.0f}% | "
                     f"{r['client_cpu_pct']:.0f}% | ±{r['rps_spread_pct'] / 2:.1f}% |")
        for label, a, b in RATIOS:
            ra, rb = rows.get(a), rows.get(b)
            if ra and rb:
                L.append(f"| {test} | {pl} | **{label}** | **{fmt_ratio(ratio(ra['rps'], rb['rps']))}** | "
                         f"{fmt_ratio(ratio(ra['p50_ms'], rb['p50_ms']))} | "
                         f"**{fmt_ratio(ratio(ra['p99_ms'], rb['p99_ms']))}** | "
                         f"{fmt_ratio(ratio(ra['cpu_us_per_req'], rb['cpu_us_per_req']))} | | | |")
    L.append("")
    L.append("rps spread = half the (max − min) range of rps over the repeats, relative to the median: "
             "differences smaller than this are noise.")
    if overlap:
        L.append("")
        L.append("Points where all requests ÷ wall time is < 90% of the summed rps (clients did not fully "
                 "overlap, or start-up took long): " + ", ".join(overlap) + ".")
    others = [p["other_cpu_pct"] for p in pts]
    if others:
        L.append("")
        L.append(f"The idle clusters used at most {max(others):.1f}% of a core during any point "
                 f"(median {statistics.median(others):.1f}%).")
    L.append("")
    L.append("## Chart")
    L.append("")
    L.append(f"![throughput, p99 and CPU per request by pipeline depth]({svg_name})")
    L.append("")
    L.append("## Exact commands")
    L.append("")
    L.append("Ports are the free ports picked for this run; the `*.resp` files are generated by "
             "`benches/cluster.sh` (RESP `SET <prefix>%012d v%031d` for every key). The three plain "
             "clients of a proxy point are on one line, run at once.")
    L.append("")
    L.append("```sh")
    L.extend(commands)
    L.append("```")
    L.append("")
    env = []
    if quick:
        env.append("QUICK=1")
    if rc_args:
        env.append(f"RINGCACHE_CLUSTER_ARGS='{rc_args}'")
    env.append(f"REPEATS={meta['repeats']}")
    L.append("Reproduce with `" + " ".join(env) + " benches/cluster.sh` (or `make bench-cluster`).")
    L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------- svg --
def svg_chart(meta, summary):
    panel_w, panel_h = 470, 340
    width = 3 * panel_w + 40
    header = 62
    height = header + panel_h + 10
    rc_args = meta.get("ringcache_cluster_args", "").strip()
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
        SVG_STYLE,
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="14" y="24" class="h1">ringcache cluster vs Redis Cluster — {escape(meta["date"])}'
        f'{" (QUICK smoke run)" if meta.get("quick") == "1" else ""}</text>',
        f'<text x="14" y="44" class="mode">3 nodes each on one {meta.get("nproc")}-core machine '
        f'(Redis: + 3 replicas), {meta["clients"]} connections, {meta["value_size"]} B values, '
        f'median of {meta["repeats"]}; ringcache args: {escape(rc_args or "(none)")}</text>',
    ]
    lx = width - 3 * 205
    for i, s in enumerate(SERIES):
        out.append(f'<rect x="{lx + i * 205}" y="14" width="14" height="14" fill="{COLORS[s]}"/>')
        out.append(f'<text x="{lx + i * 205 + 20}" y="26" class="legend">{escape(SHORT[s])}</text>')
    groups = sorted_groups(summary)
    metric = lambda k: {(t, p, s): r[k] for (t, p, s), r in summary.items()}  # noqa: E731
    y = header
    svg_panel(out, 0, y, panel_w, panel_h, "Throughput (higher is better)", "requests/s",
              groups, metric("rps"), SERIES, COLORS)
    svg_panel(out, panel_w + 20, y, panel_w, panel_h, "p99 latency (lower is better)", "p99 ms",
              groups, metric("p99_ms"), SERIES, COLORS)
    svg_panel(out, 2 * (panel_w + 20), y, panel_w, panel_h, "Server CPU per request (lower is better)",
              "CPU µs / request", groups, metric("cpu_us_per_req"), SERIES, COLORS)
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------- csv --
CSV_FIELDS = [
    "record", "series", "server", "client", "test", "pipeline", "repeat", "proc", "procs",
    "requests", "clients", "rps", "rps_wall", "avg_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms",
    "wall_s", "server_cpu_ticks", "other_cpu_ticks", "clk_tck", "cpu_us_per_req", "server_cpu_pct",
    "other_cpu_pct", "client_user_s", "client_sys_s", "client_cpu_pct",
]


def write_csv(path, procs, pts):
    """record=proc: one row per redis-benchmark process; record=point: a point's processes combined."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in procs:
            w.writerow(dict(r, record="proc"))
        for p in pts:
            row = dict(p)
            for k in ("rps", "rps_wall", "cpu_us_per_req", "server_cpu_pct", "other_cpu_pct", "client_cpu_pct"):
                row[k] = f"{row[k]:.4f}"
            w.writerow(row)


# --------------------------------------------------------------------- main --
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="cluster.sh work dir with the raw files")
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args()

    w = lambda name: os.path.join(args.work, name)  # noqa: E731
    meta = read_meta(w("meta.tsv"))
    nodes = read_nodes(w("nodes.tsv"))
    procs = read_procs(w("runs.csv"))
    with open(w("commands.txt")) as f:
        commands = list(OrderedDict.fromkeys(line.rstrip("\n") for line in f if line.strip()))
    pts = points(procs)
    summary = summarize(pts)

    base = f"{meta['date']}-cluster"
    os.makedirs(args.out_dir, exist_ok=True)
    md_path = os.path.join(args.out_dir, base + ".md")
    svg_path = os.path.join(args.out_dir, base + ".svg")
    csv_path = os.path.join(args.out_dir, base + ".csv")
    with open(svg_path, "w") as f:
        f.write(svg_chart(meta, summary))
    write_csv(csv_path, procs, pts)
    with open(md_path, "w") as f:
        f.write(markdown(meta, nodes, summary, pts, commands, os.path.basename(svg_path)))
    for p in (md_path, csv_path, svg_path):
        print(p)


if __name__ == "__main__":
    main()
