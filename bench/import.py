"""Rows per second and peak memory of `dialerd leads import` on a million-row CSV.

The file is generated on the fly in a temporary directory, as a shop's export would look:
Windows-1251, semicolons, Russian headers (№ заказа, ФИО, Телефон, Сумма, Товары,
Комментарий, Регион доставки, Email), amounts with a decimal comma; about 1 % of the rows
repeat an earlier order (duplicates) and 0.5 % carry a broken phone (rejected). The
import runs as an admin runs it, `python -m dialerd.cli leads import FILE` in its own
process, against a fresh store on disk (WAL, ``synchronous=FULL``: one fsync per batch).

Peak memory is the import process's RSS high-water mark, ``VmHWM`` from /proc as it exits
(not ``ru_maxrss``: Linux carries the high-water mark of the image before ``exec``, this
script's own, into the child's), and beside it that of the process a large file's rows are
checked in (forked from the import, so much of its memory is shared with it), read from
/proc every 0.1 s. The CPU time of both (user + system, ``wait4``), and the checking
process's share of it (/proc, last seen), is reported beside the wall time, since the
machine is shared: the wall time is the import's only when two cores are free for it.

Target: >= 20,000 rows/s. Prints the figures and writes bench/results/import.json.

    python bench/import.py [--rows 1000000] [--workdir DIR] [--profile FILE.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "import.json"
ROOT = Path(__file__).resolve().parent.parent
HEADER = "№ заказа;ФИО;Телефон;Сумма;Товары;Комментарий;Регион доставки;Email\r\n"
NAMES = ["Анна Петрова", "Борис Иванов", "Вера Смирнова", "Глеб Кузнецов", "Дарья Попова"]
REGIONS = ["г. Москва", "Московская обл.", "Свердловская область", "RU-KGD", "", ""]
CODES = [c for c in range(900, 1000) if c != 930]  # Russian mobile codes (930 is not one)
ITEMS = ["Клавиатура", "Мышь беспроводная", "Чайник 1,7 л", "Наушники", "Коврик"]


def generate(path: Path, rows: int, seed: int = 15) -> dict[str, int]:
    """A cp1251 export of ``rows`` orders; the duplicates and broken phones planted in it.

    A duplicate repeats one of the last ten good rows whole (a double-clicked order), so
    the import must answer exactly: accepted = rows - duplicates - broken.
    """
    rng = random.Random(seed)
    duplicates = broken = 0
    recent: deque[str] = deque(maxlen=10)
    with path.open("w", encoding="cp1251", newline="") as f:
        f.write(HEADER)
        lines = []
        for n in range(rows):
            roll = rng.random()
            if roll < 0.01 and recent:
                lines.append(rng.choice(recent))
                duplicates += 1
                continue
            code, number = CODES[n % len(CODES)], n // len(CODES)
            phone = f"+7 {code} {number:07d}"
            if roll < 0.015:
                phone = phone[:-3]  # too short
                broken += 1
            amount = f"{rng.randrange(300, 90000)},{rng.randrange(100):02d}"
            line = (
                f"Z-{n:07d};{rng.choice(NAMES)};{phone};{amount};{rng.choice(ITEMS)};"
                f"доставка курьером;{rng.choice(REGIONS)};buyer{n}@example.com\r\n"
            )
            lines.append(line)
            if roll >= 0.015:
                recent.append(line)
            if len(lines) == 10_000:
                f.write("".join(lines))
                lines.clear()
        f.write("".join(lines))
    return {"duplicates": duplicates, "broken_phones": broken}


# runs the command and, as it exits, writes its own RSS high-water mark (kB) to $BENCH_HWM
_WRAPPER = """
import atexit, os, runpy, sys
def _hwm():
    with open("/proc/self/status") as status:
        found = [line.split()[1] for line in status if line.startswith("VmHWM:")]
    with open(os.environ["BENCH_HWM"], "w") as out:
        out.write(found[0])
atexit.register(_hwm)
sys.argv = ["dialerd", *sys.argv[1:]]
runpy.run_module("dialerd.cli", run_name="__main__", alter_sys=True)
"""


def run_import(workdir: Path, export: Path, profile: Path | None) -> dict[str, object]:
    config = workdir / "dialerd.yaml"
    config.write_text(
        f"store: {{path: {workdir / 'store' / 'dialerd.sqlite3'}}}\nlogging: {{level: warning}}\n",
        encoding="utf-8",
    )
    argv = ["leads", "import", str(export), "--format", "json", "--config", str(config)]
    command = [sys.executable, "-c", _WRAPPER, *argv]
    if profile is not None:
        command = [sys.executable, "-m", "pyinstrument", "-r", "text", "-o", str(profile)]
        command += ["-m", "dialerd.cli", *argv]
    hwm = workdir / "hwm"
    env = {
        "BENCH_HWM": str(hwm),
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    out = workdir / "summary.json"
    started = time.perf_counter()
    helpers: dict[int, tuple[int, float]] = {}  # the import's child processes: VmHWM, CPU
    with out.open("wb") as sink:
        child = subprocess.Popen(command, stdout=sink, env=env)
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            for helper in _children(child.pid):
                seen_kb, seen_s = helpers.get(helper, (0, 0.0))
                helpers[helper] = (max(seen_kb, _hwm_kb(helper)), max(seen_s, _cpu_s(helper)))
            time.sleep(0.1)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the import failed (exit {child.returncode})")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(int(hwm.read_text()) / 1024, 1) if hwm.exists() else None,
        "helper_peak_rss_mb": round(max((h for h, _ in helpers.values()), default=0) / 1024, 1),
        "helper_cpu_s": round(sum(cpu for _, cpu in helpers.values()), 2),
        "summary": json.loads(out.read_text(encoding="utf-8")),
    }


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _hwm_kb(pid: int) -> int:
    """A process's RSS high-water mark so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def _cpu_s(pid: int) -> float:
    """A process's CPU time so far (user + system), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, help="where the file and the store go")
    parser.add_argument("--profile", type=Path, help="pyinstrument the import into this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        workdir = Path(tmp)
        export = workdir / "export.csv"
        began = time.perf_counter()
        planted = generate(export, args.rows)
        size_mb = export.stat().st_size / 1e6
        print(
            f"generated {args.rows:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - began:.1f} s"
        )
        run = run_import(workdir, export, args.profile)
    summary = run["summary"]
    assert isinstance(summary, dict)
    rate = args.rows / float(run["wall_s"])  # type: ignore[arg-type]
    print(
        f"imported {summary['rows']:,} rows in {run['wall_s']} s: {rate:,.0f} rows/s"
        f" (CPU {run['cpu_s']} s, of which the row-checking process {run['helper_cpu_s']} s)"
        " — target 20,000 rows/s"
    )
    print(
        f"accepted {summary['accepted']:,}, duplicates {summary['duplicates']:,},"
        f" rejected {summary['rejected']:,} (planted: {planted})"
    )
    print(
        f"peak memory (RSS high-water mark of the import): {run['peak_rss_mb']} MB;"
        f" of its row-checking process: {run['helper_peak_rss_mb']} MB"
    )
    results = {
        "rows": args.rows,
        "file_mb": round(size_mb, 1),
        "rows_per_s": round(rate),
        "wall_s": run["wall_s"],
        "cpu_s": run["cpu_s"],
        "checking_process_cpu_s": run["helper_cpu_s"],
        "peak_rss_mb": run["peak_rss_mb"],
        "checking_process_peak_rss_mb": run["helper_peak_rss_mb"],
        "accepted": summary["accepted"],
        "duplicates": summary["duplicates"],
        "rejected": summary["rejected"],
        "planted": planted,
        "target_rows_per_s": 20_000,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "python": platform.python_version(),
    }
    if args.profile is None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"written {RESULTS}")
    else:
        print(f"profile: {args.profile} (results not written: the profiler slows the run)")


if __name__ == "__main__":
    main()
