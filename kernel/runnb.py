#!/usr/bin/python3
"""Run PolicyLab notebooks headless through the real GoNB kernel.

Used by `make test` (every notebook must pass) and `make course` (executed
notebooks and HTML into out/, and a table of results). Written for Debian's
python3-nbclient and jupyter-nbconvert; run it with /usr/bin/python3.

A cell fails when the kernel reports an error (GoNB compile errors come this
way, with the compiler's message in an HTML output next to it), or when the
cell's program ends badly: GoNB reports a panic or a non-zero exit only as
stderr text ("panic: ...", "exit status 2"), which nbclient would let pass.

Usage:
  runnb.py [--out DIR] [--html] [--timeout S] [--check-clean] NOTEBOOK...
  runnb.py --check-clean-only NOTEBOOK...

Exit status 0 when every notebook passed. The last line is
"notebooks: N passed, N failed".
"""

import argparse
import html
import json
import os
import re
import subprocess
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

BACKEND_RE = re.compile(r"PolicyLab backend: (\S+)")
EXIT_RE = re.compile(r"^exit status (\d+)\s*$", re.M)
PANIC_RE = re.compile(r"^(panic: |fatal error: )", re.M)
TAG_RE = re.compile(r"<[^>]+>")
STYLE_RE = re.compile(r"<style.*?</style>", re.S)


def cell_label(nb, index):
    """Human name of a cell: its number among code cells, and its first line."""
    code_no = sum(1 for c in nb.cells[: index + 1] if c.cell_type == "code")
    lines, in_import = [], False
    for l in (l.strip() for l in nb.cells[index].source.splitlines()):
        if in_import:
            in_import = l != ")"
        elif l.startswith("import ("):
            in_import = True
        elif l and l != "%%" and not l.startswith("import "):
            lines.append(l)
    first = (lines or [""])[0][:70]
    return f"cell {index + 1} (code cell {code_no}: {first!r})"


def html_text(s):
    s = STYLE_RE.sub("", s)
    s = TAG_RE.sub("", s)
    s = html.unescape(s)
    lines = [l.rstrip() for l in s.splitlines() if l.strip()]
    return "\n".join(lines)


def cell_error(cell):
    """Return an error message if the executed cell failed, else None."""
    msgs = []
    failed = False
    # GoNB may split one stderr write over several stream outputs
    # ("panic: " in one, the message in the next): judge and report the
    # cell's stderr as one text.
    stderr = "".join(o.get("text", "") for o in cell.get("outputs", [])
                     if o.get("output_type") == "stream" and o.get("name") == "stderr")
    if EXIT_RE.search(stderr) or PANIC_RE.search(stderr):
        failed = True
        msgs.append(stderr.strip()[-3000:])
    for o in cell.get("outputs", []):
        t = o.get("output_type")
        if t == "error":
            failed = True
            msgs.append(f"{o.get('ename', 'error')}: {o.get('evalue', '')}")
        elif t in ("display_data", "execute_result"):
            data = o.get("data", {})
            h = data.get("text/html", "")
            if "gonb-err" in h or "gonb-error" in h:
                msgs.insert(0, html_text(h)[-3000:])
    if not failed:
        return None
    return "\n".join(msgs) if msgs else "the cell failed"


def outputs_text(nb):
    out = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream":
                out.append(o.get("text", ""))
            elif o.get("output_type") in ("display_data", "execute_result"):
                out.append(o.get("data", {}).get("text/plain", ""))
    return "".join(out)


def dirty_cells(nb):
    """Cells of a committed notebook that carry outputs or execution counts."""
    bad = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != "code":
            continue
        if c.get("outputs") or c.get("execution_count") is not None:
            bad.append(i + 1)
    return bad


def check_clean(paths):
    ok = True
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        bad = dirty_cells(nb)
        if bad:
            ok = False
            print(f"DIRTY: {p}: cells {bad} carry outputs or execution counts; "
                  f"clear them before committing (make clean-notebooks)")
    return ok


def run_one(path, args, log):
    nb = nbformat.read(path, as_version=4)
    ks = nb.metadata.get("kernelspec", {}).get("name", "gonb")
    client = NotebookClient(
        nb,
        kernel_name=ks,
        timeout=args.timeout,
        startup_timeout=120,
        allow_errors=True,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    start = time.time()
    error = None
    try:
        # Kernel logs (GoNB's klog) go to a log file, not the table.
        with client.setup_kernel(stderr=log, stdout=log):
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                t0 = time.time()
                try:
                    client.execute_cell(cell, i)
                except CellTimeoutError:
                    error = f"{cell_label(nb, i)}: timed out after {args.timeout}s"
                    break
                except DeadKernelError as e:
                    error = f"{cell_label(nb, i)}: the kernel died: {e}"
                    break
                msg = cell_error(cell)
                # A cell tagged raises-exception (nbclient's and Jupyter
                # Book's convention) may fail: an exercise notebook's cells
                # that call the student's TODO stubs, before the student
                # has written them.
                if msg and "raises-exception" in cell.get("metadata", {}).get("tags", []):
                    msg = None
                if args.verbose:
                    print(f"  {path}: {cell_label(nb, i)}: {time.time() - t0:.1f}s", flush=True)
                if msg:
                    error = f"{cell_label(nb, i)} failed:\n{msg}"
                    break
    except Exception as e:  # kernel could not start, etc.
        error = f"could not run: {type(e).__name__}: {e}"
    wall = time.time() - start
    m = BACKEND_RE.search(outputs_text(nb))
    backend = m.group(1) if m else "?"
    return nb, wall, backend, error


_process = None


def _run_in_worker(path):
    return _process(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="+")
    ap.add_argument("--out", help="write executed notebooks (and HTML with --html) here")
    ap.add_argument("--root", default=".", help="paths under --out are relative to this")
    ap.add_argument("--html", action="store_true", help="also export HTML")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    ap.add_argument("--check-clean", action="store_true", help="fail if a notebook carries outputs")
    ap.add_argument("--check-clean-only", action="store_true")
    ap.add_argument("--strip", action="store_true", help="remove outputs and execution counts in place, then exit")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--json", help="write the results table as JSON here")
    ap.add_argument("--jobs", "-j", type=int, default=int(os.environ.get("NOTEBOOK_JOBS", "1")),
                    help="notebooks run side by side (default $NOTEBOOK_JOBS or 1)")
    ap.add_argument("--chartcheck", action="store_true",
                    help="open each exported HTML with charts in headless Chromium (network off) "
                         "and fail the notebook unless every chart was drawn (needs --html)")
    args = ap.parse_args()

    paths = sorted(args.notebooks)
    if args.strip:
        for p in paths:
            nb = nbformat.read(p, as_version=4)
            if dirty_cells(nb):
                for c in nb.cells:
                    if c.cell_type == "code":
                        c.outputs, c.execution_count = [], None
                nbformat.write(nb, p)
                print(f"stripped {p}")
        return 0
    if args.check_clean or args.check_clean_only:
        if not check_clean(paths):
            print("notebooks: 0 passed, 1 failed")
            return 1
        if args.check_clean_only:
            print(f"{len(paths)} notebooks carry no outputs")
            return 0

    chartcheck = None
    if args.chartcheck:
        if not (args.out and args.html):
            ap.error("--chartcheck needs --out and --html")
        chartcheck = os.path.join(os.path.abspath(args.out), ".bin", "chartcheck")
        subprocess.run(["go", "build", "-o", chartcheck, "./kernel/cmd/chartcheck"],
                       cwd=os.path.abspath(args.root), check=True)
    exporter = None
    if args.html:
        from nbconvert import HTMLExporter
        exporter = HTMLExporter()
    logdir = args.out or os.environ.get("TMPDIR", "/tmp")
    os.makedirs(logdir, exist_ok=True)
    times_path = os.path.join(args.out, ".notebook-times.json") if args.out else None
    previous = {}
    if times_path and os.path.exists(times_path):
        try:
            with open(times_path) as f:
                previous = json.load(f)
        except (OSError, ValueError):
            previous = {}

    def process(p):
        rel = os.path.relpath(os.path.abspath(p), os.path.abspath(args.root))
        print(f"running {rel} ...", flush=True)
        logpath = os.path.join(logdir, rel.replace(os.sep, "__") + ".kernel.log")
        with open(logpath, "w") as log:
            nb, wall, backend, error = run_one(p, args, log)
        if args.out:
            base = os.path.join(args.out, os.path.splitext(rel)[0])
            os.makedirs(os.path.dirname(base), exist_ok=True)
            nbformat.write(nb, base + ".ipynb")
            if exporter:
                body, _ = exporter.from_notebook_node(nb)
                with open(base + ".html", "w") as f:
                    f.write(body)
                # Every plot.Show( call in the source must have drawn a chart
                # (GoNB output sent just before a cell's program exits can
                # be lost: this catches it).
                # Cells allowed to fail (raises-exception) need not draw.
                want = sum(c.source.count("plot.Show(") for c in nb.cells if c.cell_type == "code"
                           and "raises-exception" not in c.get("metadata", {}).get("tags", []))
                if chartcheck and error is None and (want or "data-policylab-chart" in body):
                    cc = subprocess.run([chartcheck, "-min", str(want), base + ".html"], capture_output=True, text=True)
                    print(cc.stdout.strip(), flush=True)
                    if cc.returncode != 0:
                        error = "charts not drawn in the exported HTML:\n" + (cc.stdout + cc.stderr).strip()
        status = "pass" if error is None else "FAIL"
        if error:
            print(f"FAILED: {rel}: {error}\n(kernel log: {logpath})", flush=True)
        else:
            print(f"passed {rel} in {wall:.1f}s", flush=True)
        return {"notebook": rel, "backend": backend, "wall_s": round(wall, 1), "status": status, "error": error}

    if args.jobs > 1 and len(paths) > 1:
        # Each notebook has its own kernel and GoNB folder, so they can run
        # side by side: a forked worker per notebook, the longest first when
        # a previous run left its times.
        import concurrent.futures
        import multiprocessing
        order = sorted(paths, key=lambda p: -previous.get(os.path.relpath(os.path.abspath(p), os.path.abspath(args.root)), 0))
        global _process
        _process = process  # forked workers inherit it; a closure does not pickle
        with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            done = dict(zip(order, pool.map(_run_in_worker, order)))
        rows = [done[p] for p in paths]
    else:
        rows = [process(p) for p in paths]
    if args.out:
        with open(times_path, "w") as f:
            json.dump({r["notebook"]: r["wall_s"] for r in rows}, f, indent=1)

    w = max([len(r["notebook"]) for r in rows] + [8])
    print()
    print(f"{'notebook':<{w}}  {'backend':<20}  {'wall time':>10}  result")
    print(f"{'-' * w}  {'-' * 20}  {'-' * 10}  ------")
    for r in rows:
        print(f"{r['notebook']:<{w}}  {r['backend']:<20}  {r['wall_s']:>9.1f}s  {r['status']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    passed = sum(r["status"] == "pass" for r in rows)
    failed = len(rows) - passed
    print(f"notebooks: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
