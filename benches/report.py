#!/usr/bin/env python3
"""Render the output of benches/run.sh: Markdown report, CSV, SVG chart.

Reads the raw files run.sh leaves in its work dir:
  runs.csv      one row per redis-benchmark invocation (every repeat)
  mem.csv       RSS of each server empty and after the preload
  meta.tsv      machine / version info (key<TAB>value)
  modes.tsv     mode<TAB>threads<TAB>ringcache CPU list<TAB>description of the pinning
  commands.txt  every command as run (deduplicated here)
and writes into --out-dir:
  YYYY-MM-DD-<mode>.md / .csv / .svg and latest.md (copy of the .md).

Standard library only, so it runs anywhere python3 does.
"""

import argparse
import csv
import os
import shutil
import statistics
from collections import OrderedDict
from xml.sax.saxutils import escape

SERVERS = ("ringcache", "redis")
COLORS = {"ringcache": "#1c7ed6", "redis": "#e03131"}
# A point counts as client-bound when redis-benchmark (single-threaded) used
# at least this share of its core: then rps measures the load generator as
# much as the server, and CPU µs/request is the number to trust.
CLIENT_BOUND_PCT = 90.0


# ------------------------------------------------------------------ loading --
def read_meta(path):
    meta = OrderedDict()
    with open(path) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            meta[key] = value
    return meta


def read_modes(path):
    modes = OrderedDict()
    with open(path) as f:
        for line in f:
            mode, threads, cpus, note = line.rstrip("\n").split("\t", 3)
            modes[mode] = {"threads": threads, "cpus": cpus, "note": note}
    return modes


def read_runs(path):
    runs = []
    with open(path) as f:
        for r in csv.DictReader(f):
            n = int(r["requests"])
            ticks = int(r["server_cpu_ticks"])
            clk = int(r["clk_tck"])
            wall = float(r["wall_s"])
            client_cpu = float(r["client_user_s"]) + float(r["client_sys_s"])
            r.update(
                pipeline=int(r["pipeline"]),
                repeat=int(r["repeat"]),
                requests=n,
                rps=float(r["rps"]),
                p50_ms=float(r["p50_ms"]),
                p99_ms=float(r["p99_ms"]),
                # utime+stime ticks -> microseconds, per request.
                cpu_us_per_req=ticks * 1e6 / clk / n,
                server_cpu_pct=100.0 * ticks / clk / wall if wall > 0 else 0.0,
                client_cpu_pct=100.0 * client_cpu / wall if wall > 0 else 0.0,
            )
            runs.append(r)
    return runs


def read_mem(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        empty, loaded, n = int(r["rss_empty_kb"]), int(r["rss_loaded_kb"]), int(r["dbsize"])
        r["bytes_per_key"] = (loaded - empty) * 1024.0 / n if n else float("nan")
    return rows


def summarize(runs):
    """Median of every metric over the repeats, per (mode, test, pipeline, server).

    Medians are taken per column independently (the p99 median need not come
    from the same repeat as the rps median) -- each column is its own estimate.
    """
    groups = OrderedDict()
    for r in runs:
        groups.setdefault((r["mode"], r["test"], r["pipeline"], r["server"]), []).append(r)
    out = OrderedDict()
    for key, rs in groups.items():
        rps = [r["rps"] for r in rs]
        med = statistics.median(rps)
        out[key] = {
            "n": len(rs),
            "requests": rs[0]["requests"],
            "rps": med,
            "rps_spread_pct": 100.0 * (max(rps) - min(rps)) / med if med else 0.0,
            "p50_ms": statistics.median(r["p50_ms"] for r in rs),
            "p99_ms": statistics.median(r["p99_ms"] for r in rs),
            "cpu_us_per_req": statistics.median(r["cpu_us_per_req"] for r in rs),
            "client_cpu_pct": statistics.median(r["client_cpu_pct"] for r in rs),
            "server_cpu_pct": statistics.median(r["server_cpu_pct"] for r in rs),
        }
    return out


# --------------------------------------------------------------- formatting --
def ratio(a, b):
    return a / b if b else float("nan")


def fmt_ratio(x):
    return "n/a" if x != x else f"{x:.2f}×"


def fmt_rps(x):
    return f"{x:,.0f}"


def fmt_ms(x):
    return f"{x:.3f}"


def fmt_us(x):
    return f"{x:.2f}" if x >= 0.995 else f"{x:.3f}"


def order_key(test):
    # SET before GET (the order run.sh uses), anything else after.
    return {"SET": 0, "GET": 1}.get(test, 2), test


def mode_tag(modes):
    threads = [m["threads"] for m in modes.values()]
    return "threads" + "-".join(threads)


# ----------------------------------------------------------------- markdown --
def markdown(meta, modes, summary, mem, commands, svg_name):
    quick = meta.get("quick") == "1"
    L = []
    L.append(f"# ringcache vs redis-server — {meta['date']} ({mode_tag(modes)})")
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
    L.append("")
    L.append("## Method")
    L.append("")
    L.append(f"- Both servers preloaded with {int(meta['keys']):,} distinct keys "
             f"(`key:%012d`, 16 bytes) with {meta['value_size']}-byte values; DBSIZE checked.")
    L.append(f"- redis-benchmark, {meta['clients']} connections, `-d {meta['value_size']}`, "
             f"`-r {meta['keys']}` (uniform random keys over the preloaded keyspace, so every GET hits).")
    L.append(f"- Servers alternate point by point; every point is run {meta['repeats']}× "
             "and the table shows the **median** of each column.")
    L.append("- **cpu µs/req** = server utime+stime (`/proc/PID/stat` fields 14+15, all threads) "
             "over the run ÷ requests. Lower is better; it is the fairest efficiency number "
             "because it does not depend on whether the load generator kept up.")
    L.append("- Latencies are redis-benchmark's: with pipelining, a request's latency runs from "
             "when its batch was sent, so p50/p99 grow with pipeline depth for both servers.")
    L.append("- Ratio rows are ringcache ÷ redis: rps above 1.00× and p50/p99/cpu below 1.00× "
             "favour ringcache.")
    L.append("")

    for mode, info in modes.items():
        L.append(f"## Results: {mode}")
        L.append("")
        L.append(f"{info['note']}")
        L.append("")
        L.append("| test | pipeline | server | rps | p50 ms | p99 ms | cpu µs/req | rps spread |")
        L.append("|---|---:|---|---:|---:|---:|---:|---:|")
        bound = []
        keys = sorted({(t, p) for (m, t, p, s) in summary if m == mode},
                      key=lambda tp: (order_key(tp[0]), tp[1]))
        for test, pl in keys:
            rows = {s: summary.get((mode, test, pl, s)) for s in SERVERS}
            for s in SERVERS:
                r = rows[s]
                if r is None:
                    continue
                mark = ""
                if r["client_cpu_pct"] >= CLIENT_BOUND_PCT:
                    mark = " †"
                    bound.append(f"{test} P{pl} {s} ({r['client_cpu_pct']:.0f}%)")
                L.append(f"| {test} | {pl} | {s} | {fmt_rps(r['rps'])}{mark} | {fmt_ms(r['p50_ms'])} | "
                         f"{fmt_ms(r['p99_ms'])} | {fmt_us(r['cpu_us_per_req'])} | "
                         f"±{r['rps_spread_pct'] / 2:.1f}% |")
            a, b = rows["ringcache"], rows["redis"]
            if a and b:
                L.append(f"| {test} | {pl} | **ringcache/redis** | **{fmt_ratio(ratio(a['rps'], b['rps']))}** | "
                         f"{fmt_ratio(ratio(a['p50_ms'], b['p50_ms']))} | "
                         f"**{fmt_ratio(ratio(a['p99_ms'], b['p99_ms']))}** | "
                         f"**{fmt_ratio(ratio(a['cpu_us_per_req'], b['cpu_us_per_req']))}** | |")
        L.append("")
        L.append("rps spread = half the (max − min) range of rps over the repeats, relative to the median: "
                 "differences smaller than this are noise.")
        if bound:
            L.append("")
            L.append(f"† load generator (single-threaded redis-benchmark) used ≥{CLIENT_BOUND_PCT:.0f}% of its "
                     "core: rps is (partly) limited by the client, compare cpu µs/req instead. "
                     "Points: " + ", ".join(bound) + ".")
        L.append("")

    L.append("## Memory per key")
    L.append("")
    L.append("RSS (`VmRSS`) of the freshly started, empty server and again after the preload; "
             "bytes/key = (loaded − empty) ÷ DBSIZE. Includes allocator overhead and the hash "
             "table, which is what a user pays for.")
    L.append("")
    L.append("| mode | server | RSS empty MiB | RSS loaded MiB | keys (DBSIZE) | bytes/key |")
    L.append("|---|---|---:|---:|---:|---:|")
    for mode in modes:
        rows = {r["server"]: r for r in mem if r["mode"] == mode}
        for s in SERVERS:
            r = rows.get(s)
            if r:
                L.append(f"| {mode} | {s} | {int(r['rss_empty_kb']) / 1024:.1f} | "
                         f"{int(r['rss_loaded_kb']) / 1024:.1f} | {int(r['dbsize']):,} | "
                         f"{r['bytes_per_key']:.1f} |")
        if "ringcache" in rows and "redis" in rows:
            L.append(f"| {mode} | **ringcache/redis** | | | | "
                     f"**{fmt_ratio(ratio(rows['ringcache']['bytes_per_key'], rows['redis']['bytes_per_key']))}** |")
    L.append("")
    L.append("## Chart")
    L.append("")
    L.append(f"![throughput and CPU per request by pipeline depth]({svg_name})")
    L.append("")
    L.append("## Exact commands")
    L.append("")
    L.append("Ports are the free ports picked for this run; `keys.resp` is generated by "
             "`benches/run.sh` (RESP `SET key:%012d v%031d` for every key).")
    L.append("")
    L.append("```sh")
    L.extend(commands)
    L.append("```")
    L.append("")
    L.append("Reproduce with `" + ("QUICK=1 " if quick else "")
             + f"THREADS={','.join(m['threads'] for m in modes.values())} "
             f"REPEATS={meta['repeats']} benches/run.sh`.")
    L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------- svg --
def nice_ceiling(x):
    """Round x up to 1/2/2.5/5 × 10^k for a readable axis maximum."""
    if x <= 0:
        return 1.0
    import math
    exp = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if x <= m * exp:
            return m * exp
    return 10 * exp


def short_num(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.0f}k"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def tick_label(v, vmax):
    """Axis labels with one unit for the whole axis: 0, 400k, 800k, ... or 0, 2, 4."""
    if vmax >= 1e6:
        return f"{v / 1e6:g}M" if v else "0"
    if vmax >= 1e4:
        return f"{v / 1e3:g}k" if v else "0"
    return f"{v:g}"


def svg_panel(out, x0, y0, w, h, title, metric, groups, values, series=SERVERS, colors=COLORS):
    """Grouped bar chart: one group per (test, pipeline), one bar per series.

    values maps (test, pipeline, series) -> number; series and colors default
    to the two servers of run.sh (benches/cluster_report.py passes its own).
    """
    left, right, top, bottom = 58, 10, 28, 46
    pw, ph = w - left - right, h - top - bottom
    px, py = x0 + left, y0 + top
    vmax = nice_ceiling(max([v for v in values.values() if v == v] or [1]) * 1.08)
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + 16}" class="title">{escape(title)}</text>')
    # y grid + tick labels
    for i in range(6):
        v = vmax * i / 5
        y = py + ph - ph * i / 5
        out.append(f'<line x1="{px}" y1="{y:.1f}" x2="{px + pw}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{px - 6}" y="{y + 4:.1f}" class="ytick">{tick_label(v, vmax)}</text>')
    out.append(f'<line x1="{px}" y1="{py + ph}" x2="{px + pw}" y2="{py + ph}" class="axis"/>')
    gw = pw / max(len(groups), 1)
    bw = min(gw * 0.8 / len(series), 34)
    prev_test = None
    test_spans = OrderedDict()
    for gi, (test, pl) in enumerate(groups):
        gx = px + gi * gw
        bx0 = gx + (gw - bw * len(series)) / 2
        for si, s in enumerate(series):
            v = values.get((test, pl, s))
            if v is None or v != v:
                continue
            bh = ph * v / vmax
            bx = bx0 + si * bw
            out.append(f'<rect x="{bx:.1f}" y="{py + ph - bh:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}" '
                       f'fill="{colors[s]}"><title>{escape(f"{s} {test} P{pl}: {v:,.3f} {metric}")}</title></rect>')
            out.append(f'<text x="{bx + (bw - 2) / 2:.1f}" y="{py + ph - bh - 3:.1f}" class="val">{short_num(v)}</text>')
        out.append(f'<text x="{gx + gw / 2:.1f}" y="{py + ph + 14}" class="xtick">P{pl}</text>')
        test_spans.setdefault(test, [gx, gx + gw])[1] = gx + gw
        if prev_test is not None and test != prev_test:
            out.append(f'<line x1="{gx:.1f}" y1="{py}" x2="{gx:.1f}" y2="{py + ph + 30}" class="sep"/>')
        prev_test = test
    for test, (a, b) in test_spans.items():
        out.append(f'<text x="{(a + b) / 2:.1f}" y="{py + ph + 32}" class="test">{escape(test)}</text>')
    # y axis label
    cy = py + ph / 2
    out.append(f'<text x="{x0 + 12}" y="{cy:.1f}" class="ylabel" transform="rotate(-90 {x0 + 12} {cy:.1f})">'
               f'{escape(metric)}</text>')


# Shared with benches/cluster_report.py.
SVG_STYLE = (
    "<style>"
    ".title{font-size:14px;font-weight:bold;text-anchor:middle}"
    ".h1{font-size:17px;font-weight:bold}"
    ".mode{font-size:13px;fill:#333}"
    ".ytick{font-size:10px;text-anchor:end;fill:#555}"
    ".xtick{font-size:11px;text-anchor:middle}"
    ".test{font-size:12px;font-weight:bold;text-anchor:middle}"
    ".val{font-size:9.5px;text-anchor:middle;fill:#222}"
    ".ylabel{font-size:11px;text-anchor:middle;fill:#555}"
    ".legend{font-size:12px}"
    ".grid{stroke:#e5e5e5;stroke-width:1}"
    ".axis{stroke:#888;stroke-width:1}"
    ".sep{stroke:#bbb;stroke-width:1;stroke-dasharray:3,3}"
    "</style>"
)


def svg_chart(meta, modes, summary):
    panel_w, panel_h, row_title = 560, 330, 26
    width = 2 * panel_w + 20
    header = 56
    height = header + len(modes) * (panel_h + row_title) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">',
        SVG_STYLE,
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="14" y="24" class="h1">ringcache vs redis-server — {escape(meta["date"])}'
        f'{" (QUICK smoke run)" if meta.get("quick") == "1" else ""}</text>',
        f'<text x="14" y="44" class="mode">{int(meta["keys"]):,} keys, {meta["value_size"]} B values, '
        f'{meta["clients"]} connections, median of {meta["repeats"]} run{"s" if meta["repeats"] != "1" else ""}</text>',
    ]
    # legend (top right)
    lx = width - 230
    for i, s in enumerate(SERVERS):
        out.append(f'<rect x="{lx + i * 110}" y="14" width="14" height="14" fill="{COLORS[s]}"/>')
        out.append(f'<text x="{lx + i * 110 + 20}" y="26" class="legend">{s}</text>')
    y = header
    for mode, info in modes.items():
        # One short line (the full note is in the Markdown).
        shared = set(info["cpus"].split(",")) & {meta.get("client_cpu")}
        line = (f"ringcache --threads {info['threads']} on CPU{'s' if ',' in info['cpus'] else ''} {info['cpus']}; "
                f"redis-server on CPU {meta.get('server_cpu')}; redis-benchmark on CPU {meta.get('client_cpu')}"
                + (" (shared with ringcache)" if shared else ""))
        out.append(f'<text x="14" y="{y + 16}" class="mode"><tspan font-weight="bold">{escape(mode)}</tspan>: '
                   f'{escape(line)}</text>')
        y += row_title
        groups = sorted({(t, p) for (m, t, p, s) in summary if m == mode},
                        key=lambda tp: (order_key(tp[0]), tp[1]))
        rps = {(t, p, s): r["rps"] for (m, t, p, s), r in summary.items() if m == mode}
        cpu = {(t, p, s): r["cpu_us_per_req"] for (m, t, p, s), r in summary.items() if m == mode}
        svg_panel(out, 0, y, panel_w, panel_h, "Throughput (higher is better)", "requests/s", groups, rps)
        svg_panel(out, panel_w + 20, y, panel_w, panel_h, "Server CPU per request (lower is better)",
                  "CPU µs / request", groups, cpu)
        y += panel_h
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------- csv --
CSV_FIELDS = [
    "record", "mode", "server", "test", "pipeline", "repeat", "requests", "clients",
    "rps", "avg_ms", "min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms",
    "server_cpu_ticks", "clk_tck", "cpu_us_per_req", "server_cpu_pct",
    "client_user_s", "client_sys_s", "client_cpu_pct", "wall_s",
    "rss_empty_kb", "rss_loaded_kb", "dbsize", "bytes_per_key",
]


def write_csv(path, runs, mem):
    """Every raw measurement: record=run rows (one per repeat) and record=memory rows."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in runs:
            row = dict(r, record="run")
            for k in ("cpu_us_per_req", "server_cpu_pct", "client_cpu_pct"):
                row[k] = f"{row[k]:.4f}"
            w.writerow(row)
        for r in mem:
            w.writerow(dict(r, record="memory", bytes_per_key=f"{r['bytes_per_key']:.2f}"))


# --------------------------------------------------------------------- main --
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="run.sh work dir with the raw files")
    ap.add_argument("--out-dir", required=True)
    args = ap.parse_args()

    w = lambda name: os.path.join(args.work, name)
    meta = read_meta(w("meta.tsv"))
    modes = read_modes(w("modes.tsv"))
    runs = read_runs(w("runs.csv"))
    mem = read_mem(w("mem.csv"))
    with open(w("commands.txt")) as f:
        commands = list(OrderedDict.fromkeys(line.rstrip("\n") for line in f if line.strip()))
    summary = summarize(runs)

    base = f"{meta['date']}-{mode_tag(modes)}"
    os.makedirs(args.out_dir, exist_ok=True)
    md_path = os.path.join(args.out_dir, base + ".md")
    svg_path = os.path.join(args.out_dir, base + ".svg")
    csv_path = os.path.join(args.out_dir, base + ".csv")
    with open(svg_path, "w") as f:
        f.write(svg_chart(meta, modes, summary))
    write_csv(csv_path, runs, mem)
    with open(md_path, "w") as f:
        f.write(markdown(meta, modes, summary, mem, commands, os.path.basename(svg_path)))
    shutil.copyfile(md_path, os.path.join(args.out_dir, "latest.md"))
    for p in (md_path, csv_path, svg_path):
        print(p)
    print(os.path.join(args.out_dir, "latest.md"))


if __name__ == "__main__":
    main()
