"""Both systems on the same machine in one run: one table (ours, peer, ratio per row) + JSON.

    .venv/bin/python -m benchmarks.run --sizes 10k,100k,1m --repeat 3

Our side runs in subprocesses of `benchmarks.ours` (wire intake + soak with the bot in its own
process, SLA sweep, summary build); the peer (django-helpdesk 2.6.1, installed on first use into
benchmarks/.peer-venv) in subprocesses of `benchmarks/peer/helpdesk_bench.py`. Every figure is a
median over --repeat runs (the sweep and summary: medians of --repeat timed calls on one seeded
database, as the colleagues' benchmark functions do). JSON goes to benchmarks/results/<time>.json.
See docs/benchmarks.md for what each row measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEER_SCRIPT = ROOT / "benchmarks" / "peer" / "helpdesk_bench.py"
RESULTS = ROOT / "benchmarks" / "results"


def size(text: str) -> int:
    text = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * mult)


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 \
        else str(n)


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_json(cmd: list[str], timeout: float | None = None) -> dict[str, Any]:
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours(*args: str, workdir: Path | None = None) -> dict[str, Any]:
    extra = ["--workdir", str(workdir)] if workdir else []
    return run_json([sys.executable, "-m", "benchmarks.ours", *extra, *args])


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Key-wise median of numeric fields (other fields from the first run)."""
    out: dict[str, Any] = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = statistics.median(r[key] for r in runs if key in r)
    return out


# ---------------------------------------------------------------- our side

def run_ours(sizes: list[int], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"intake": {}, "sweep": {}, "summary": {}}
    first = sizes[0]
    runs = []
    for r in range(args.repeat if "intake" in args.parts else 0):
        last = r == args.repeat - 1
        soak = args.soak if last else 0  # the last intake run goes on with the soak
        log(f"ours: intake over the wire, history {label(first)}, run {r + 1}/{args.repeat}"
            + (f", then a soak of {soak} events (at most {args.soak_budget:.0f} s)"
               if soak else ""))
        runs.append(ours("wire", "--history", str(first), "--levels", args.levels,
                         "--tickets", str(args.tickets), "--soak", str(soak),
                         "--soak-budget", str(args.soak_budget), workdir=work))
    result["intake_runs"] = runs
    if runs:
        result["intake_history"] = first
        for i, level in enumerate(int(x) for x in args.levels.split(",")):
            result["intake"][level] = median_of([run["intake"][i] for run in runs])
        result["rss_start_mib"] = statistics.median(run["rss_start_mib"] for run in runs)
        result["intake_peak_rss_mib"] = max(run["bot_peak_rss_mib"] for run in runs)
        if args.soak:
            result["soak"] = runs[-1]
    for n in sizes:
        if "sweep" in args.parts:
            log(f"ours: SLA due sweep at {label(n)} ({args.repeat} timed runs each)")
            result["sweep"][n] = ours("sweep", "--n", str(n), "--runs", str(args.repeat),
                                      workdir=work)
        if "summary" in args.parts:
            log(f"ours: summary build at {label(n)}")
            result["summary"][n] = ours("summary", "--n", str(n), workdir=work)
    return result


# ---------------------------------------------------------------- the peer

def run_peer(sizes: list[int], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from benchmarks.peer import setup_peer

    log("peer: ensuring benchmarks/.peer-venv (django-helpdesk 2.6.1 from PyPI)")
    py = str(setup_peer.ensure())
    result: dict[str, Any] = {"versions": setup_peer.versions(), "journal": args.peer_journal,
                              "sizes": {}}

    def peer(db: Path, *cmd: str) -> dict[str, Any]:
        return run_json([py, str(PEER_SCRIPT), "--db", str(db), "--journal", args.peer_journal,
                         *cmd])

    template = work / "peer-migrated.sqlite3"
    log("peer: migrations")
    result["migrate"] = peer(template, "migrate")
    for n in sizes:
        if n > args.peer_max:
            log(f"peer: {label(n)} skipped (--peer-max {label(args.peer_max)})")
            continue
        base = work / f"peer-{n}.sqlite3"
        shutil.copy(template, base)
        log(f"peer: seeding {label(n)}")
        entry: dict[str, Any] = {"seed": peer(base, "seed", "--n", str(n))}
        sweep_repeat = args.repeat if n <= args.peer_sweep_full else 1
        creates, sweeps, nomails = [], [], []
        for r in range(args.repeat):
            copy = work / "peer-run.sqlite3"
            if n == sizes[0] or not creates:
                shutil.copy(base, copy)
                log(f"peer: {label(n)} TicketForm x{args.peer_create}, run {r + 1}")
                creates.append(peer(copy, "create", "--count", str(args.peer_create)))
            if r < sweep_repeat and n <= args.peer_sweep_max:
                shutil.copy(base, copy)
                log(f"peer: {label(n)} escalate_tickets (mail), run {r + 1}/{sweep_repeat}")
                sweeps.append(peer(copy, "escalate"))
                shutil.copy(base, copy)
                log(f"peer: {label(n)} escalate_tickets (no mail), run {r + 1}/{sweep_repeat}")
                nomails.append(peer(copy, "escalate", "--nomail"))
        if not sweeps:
            log(f"peer: {label(n)} summary queries only (sweep skipped above "
                f"{label(args.peer_sweep_max)})")
            entry["summary_only"] = peer(base, "summary")
        entry["create"] = median_of(creates)
        entry["create_runs"] = creates
        if sweeps:
            entry["escalate"] = median_of(sweeps)
            entry["escalate_nomail"] = median_of(nomails)
            entry["escalate_runs"] = sweeps
            entry["escalate_nomail_runs"] = nomails
        result["sizes"][n] = entry
        base.unlink(missing_ok=True)
    return result


# ---------------------------------------------------------------- table

def rows(sizes: list[int], o: dict[str, Any], p: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per figure: ours, peer, and `gain` = how many times better ours is."""
    out: list[dict[str, Any]] = []

    def add(name: str, n: int | None, unit: str, mine: float | None, theirs: float | None,
            higher_better: bool, compare: bool = True) -> None:
        gain = None
        if mine and theirs and compare:
            gain = mine / theirs if higher_better else theirs / mine
        out.append({"figure": name, "tickets": n, "unit": unit, "ours": mine, "peer": theirs,
                    "gain": gain})

    peer_sizes = (p or {}).get("sizes", {})
    first = o.get("intake_history") or next(
        (n for n in sizes if "create" in peer_sizes.get(n, {})), sizes[0])
    pc = peer_sizes.get(first, {}).get("create", {})
    sizes_sw = [n for n in sizes if n in o["sweep"]]
    sizes_su = [n for n in sizes if n in o["summary"]]
    for level, r in o["intake"].items():
        add(f"intake tickets/s @{level} concurrent (peer: TicketForm, serial)", first, "1/s",
            r["tickets_per_s"], pc.get("create_form_tps"), True)
    for level, r in o["intake"].items():
        add(f"intake submissions refused @{level} (errors)", first, "%",
            r.get("failure_pct", 0.0), None, False)
        add(f"intake tickets stored but not announced @{level}", first, "n",
            r.get("unannounced", 0), None, False)
    for level, r in o["intake"].items():
        add(f"intake submission p50 @{level}", first, "ms", r["submit_p50_ms"],
            pc.get("create_form_p50_ms"), False)
        add(f"intake submission p99 @{level}", first, "ms", r["submit_p99_ms"],
            pc.get("create_form_p99_ms"), False)
    for n in sizes_sw:
        s = o["sweep"][n]
        pe = peer_sizes.get(n, {})
        esc, nom = pe.get("escalate", {}), pe.get("escalate_nomail", {})
        add("sweep, nothing due (peer: re-sweep)", n, "ms", s["full_none_ms"],
            esc.get("escalate_resweep_s", 0) * 1000 or None, False)
        add(f"sweep, {s['due']} due (peer: its ~10% due, no mail)", n, "ms", s["full_due_ms"],
            nom.get("escalate_s", 0) * 1000 or None, False, compare=False)
        add("sweep per due ticket (peer: no mail)", n, "ms", s["per_due_ticket_ms"],
            nom.get("escalate_per_ticket_ms"), False)
        add("sweep per due ticket (peer: with mail)", n, "ms", s["per_due_ticket_ms"],
            esc.get("escalate_per_ticket_ms"), False)
    for n in sizes_su:
        pe = peer_sizes.get(n, {})
        theirs = pe.get("escalate", pe.get("summary_only", {})).get("summary_s")
        add("summary build (peer: 4 ORM queries)", n, "ms", o["summary"][n]["build_ms"],
            theirs * 1000 if theirs else None, False)
    peer_peak = max([v for e in peer_sizes.values() for k in ("escalate", "escalate_nomail",
                     "create", "summary_only") for v in [e.get(k, {}).get("peak_rss_mib")] if v]
                    or [0]) or None
    if "intake_peak_rss_mib" in o:
        ours_peak = max([o["intake_peak_rss_mib"],
                         o.get("soak", {}).get("bot_peak_rss_mib", 0)])
        add("peak RSS, bot process (peer: measuring processes)", None, "MiB", ours_peak,
            peer_peak, False)
        add("bot RSS after start", None, "MiB", o["rss_start_mib"], None, False)
    jobs = [v["peak_rss_mib"] for k in ("sweep", "summary") for v in o[k].values()]
    if jobs:
        add("peak RSS, sweep/summary processes", None, "MiB", max(jobs), peer_peak, False)
    if "soak" in o:
        soak = o["soak"]
        add(f"bot RSS after soak ({soak['soak_handled']} events)", None, "MiB",
            soak["rss_after_soak_mib"], None, False)
        add("RSS growth over soak vs after start", None, "%", soak["soak_growth_pct"], None, False)
        add("RSS growth over soak vs after intake (warm)", None, "%",
            soak["soak_growth_after_warm_pct"], None, False)
    return out


def targets(sizes: list[int], o: dict[str, Any], table: list[dict[str, Any]]) -> list[dict]:
    found: list[dict[str, Any]] = []

    def check(name: str, value: Any, ok: bool | None, note: str = "") -> None:
        found.append({"target": name, "value": value, "met": ok, "note": note})

    if o["intake"]:
        at20 = o["intake"].get(20) or next(iter(o["intake"].values()))
        gain = next((r["gain"] for r in table
                     if r["figure"].startswith("intake tickets/s @20")), None)
        check("intake >= 5x peer TicketForm tickets/s (20 concurrent)", gain,
              None if gain is None else gain >= 5)
        check("p99 submission < 50 ms at 20 concurrent", at20["submit_p99_ms"],
              at20["submit_p99_ms"] < 50)
    if o["sweep"]:
        big = max(o["sweep"])
        none = o["sweep"][big]["full_none_ms"]
        check(f"sweep with nothing due < 5 ms at {label(big)}", none, none < 5,
              "" if big >= 1_000_000 else "1M not in this run")
    per = [r for r in table if r["figure"] == "sweep per due ticket (peer: no mail)" and r["gain"]]
    check("per due ticket >= 20x cheaper than peer no-mail sweep",
          [round(r["gain"], 1) for r in per], all(r["gain"] >= 20 for r in per) if per else None)
    if o["summary"]:
        big = max(o["summary"])
        summ = o["summary"][big]["build_ms"]
        check(f"summary < 50 ms at {label(big)}", summ, summ < 50)
        flat = [o["summary"][n]["build_ms"] for n in sorted(o["summary"])]
        check("summary flat in history (largest / smallest size)", flat[-1] / flat[0],
              flat[-1] / flat[0] < 2 if len(flat) > 1 else None)
    for prefix, name in (("peak RSS, bot", "bot"), ("peak RSS, sweep", "sweep/summary processes")):
        peak = next((r["ours"] for r in table if r["figure"].startswith(prefix)), None)
        if peak is not None:
            check(f"peak RSS < 100 MiB ({name})", peak, peak < 100)
    if "soak" in o:
        # Growth over the soak: from just before it (after the intake runs) to its end. The
        # growth since start is shown too; it includes the intake's warm-up at 100 concurrent
        # customers (connections, statement caches), which happens before the soak begins.
        soak = o["soak"]
        g = soak["soak_growth_after_warm_pct"]
        check("< 10% RSS growth over the soak", g, g < 10,
              f"{soak['soak_handled']} events" + ("" if soak["soak_complete"]
                                                  else " (time budget hit)")
              + f"; {soak['soak_growth_pct']:.1f}% since start, intake warm-up included")
    return found


def fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def print_table(table: list[dict[str, Any]], found: list[dict[str, Any]]) -> None:
    print(f"{'figure':<58} {'N':>5} {'unit':>4} {'ours':>10} {'peer':>10} {'gain':>8}")
    for r in table:
        n = label(r["tickets"]) if r["tickets"] else ""
        gain = f"{r['gain']:.1f}x" if r["gain"] else "-"
        print(f"{r['figure']:<58} {n:>5} {r['unit']:>4} {fmt(r['ours']):>10} "
              f"{fmt(r['peer']):>10} {gain:>8}")
    print("\ntargets:")
    for t in found:
        mark = {True: "MET   ", False: "MISSED", None: "n/a   "}[t["met"]]
        value = t["value"] if isinstance(t["value"], list) else fmt(t["value"])
        print(f"  {mark} {t['target']}: {value}"
              f"{'  (' + t['note'] + ')' if t['note'] else ''}")


def machine() -> dict[str, Any]:
    mem = next((ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
                if ln.startswith("MemTotal")), "0")
    return {"cpus": os.cpu_count(), "mem_gib": round(int(mem) / 1024 / 1024, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "kernel": platform.release(), "loadavg_start": os.getloadavg()}


def load(path: Path) -> dict[str, Any]:
    """A saved run, with the integer keys JSON turned into strings restored."""
    data = json.loads(path.read_text())

    def ints(d: dict[str, Any]) -> dict[Any, Any]:
        return {int(k) if str(k).isdigit() else k: v for k, v in d.items()}

    o = data["ours"]
    for key in ("intake", "sweep", "summary"):
        o[key] = ints(o[key])
    if data.get("peer"):
        data["peer"]["sizes"] = ints(data["peer"]["sizes"])
    return data


def merged(paths: list[Path]) -> dict[str, Any]:
    """Several saved runs as one (later files add sizes / parts the earlier ones lack)."""
    data = load(paths[0])
    for path in paths[1:]:
        more = load(path)
        o = data["ours"]
        for key in ("intake", "sweep", "summary"):
            o[key].update(more["ours"][key])
        for key, value in more["ours"].items():
            o.setdefault(key, value)
        if more.get("peer"):
            if not data.get("peer"):
                data["peer"] = more["peer"]
            else:
                for n, entry in more["peer"]["sizes"].items():
                    data["peer"]["sizes"].setdefault(n, entry)
        data["sizes"] = sorted(set(data["sizes"]) | set(more["sizes"]))
    return data


def reprint(paths: list[Path]) -> None:
    """Rebuild the table and target checks from saved JSON files (merged in order)."""
    data = merged(paths)
    table = rows(data["sizes"], data["ours"], data.get("peer"))
    print_table(table, targets(data["sizes"], data["ours"], table))
    print(f"\nmachine {data['machine']}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k", help="comma list, e.g. 10k,100k,1m")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--levels", default="1,20,100", help="concurrent customers")
    parser.add_argument("--tickets", type=int, default=200, help="tickets per intake level")
    parser.add_argument("--soak", type=int, default=100_000, help="events; 0 = no soak")
    parser.add_argument("--soak-budget", type=float, default=300.0, help="soak time cap, s")
    parser.add_argument("--parts", default="intake,sweep,summary",
                        help="our parts to run: intake (with the soak), sweep, summary")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--peer-journal", choices=("wal", "stock"), default="wal",
                        help="wal = like ours (WAL, synchronous=NORMAL); stock = Django default")
    parser.add_argument("--peer-create", type=int, default=300, help="TicketForm saves per run")
    parser.add_argument("--peer-max", type=size, default=size("100k"),
                        help="largest N the peer is seeded at")
    parser.add_argument("--peer-sweep-max", type=size, default=size("100k"),
                        help="largest N the peer's escalate_tickets runs at")
    parser.add_argument("--peer-sweep-full", type=size, default=size("10k"),
                        help="above this N the peer's sweep runs once, not --repeat times")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--quiet", action="store_true", help="no table on stdout")
    parser.add_argument("--table", type=Path, nargs="+",
                        help="only re-print the table of saved JSON file(s), merged")
    args = parser.parse_args(argv)
    if args.table:
        reprint(args.table)
        return {}
    sizes = sorted(size(s) for s in args.sizes.split(","))
    facts = machine()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        work = Path(tmp)
        o = run_ours(sizes, args, work)
        p = None if args.skip_peer else run_peer(sizes, args, work)
    facts["loadavg_end"] = os.getloadavg()
    table = rows(sizes, o, p)
    found = targets(sizes, o, table)
    result = {"started": datetime.fromtimestamp(started, UTC).isoformat(),
              "seconds": time.time() - started, "argv": sys.argv[1:] if argv is None else argv,
              "machine": facts, "sizes": sizes, "table": table, "targets": found,
              "ours": o, "peer": p}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    result["path"] = str(path)
    if not args.quiet:
        print_table(table, found)
        print(f"\nJSON: {path}  ({result['seconds']:.0f} s; machine {facts})")
    return result


if __name__ == "__main__":
    main()
