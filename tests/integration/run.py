#!/usr/bin/python3
"""Integration test runner: imports every test_*.py here and runs each
function named test_*; prints one result line per test and a closing line
"integration: N passed, N failed". Stdlib only (Debian's python3)."""
import argparse
import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hlsd", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--asan", action="store_true")
    ap.add_argument("-k", default="", help="only tests whose name contains this")
    args = ap.parse_args()
    harness.configure(os.path.abspath(args.hlsd), os.path.abspath(args.work), args.asan)

    passed = failed = skipped = 0
    failures = []
    t_all = time.monotonic()
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fn[:-3], os.path.join(HERE, fn))
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
        except Exception:
            traceback.print_exc()
            failed += 1
            failures.append(fn)
            continue
        tests = [(n, getattr(mod, n)) for n in dir(mod) if n.startswith("test_") and callable(getattr(mod, n))]
        tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
        for name, fn_ in tests:
            full = f"{fn[:-3]}.{name}"
            if args.k and args.k not in full:
                continue
            if args.asan and getattr(fn_, "plain_only", False):
                print(f"SKIP {full} (plain build only)", flush=True)
                skipped += 1
                continue
            t0 = time.monotonic()
            print(f"RUN  {full}", flush=True)
            try:
                fn_()
                print(f"PASS {full} ({time.monotonic() - t0:.1f}s)", flush=True)
                passed += 1
            except harness.Skip as e:
                print(f"SKIP {full}: {e}", flush=True)
                skipped += 1
            except Exception:
                traceback.print_exc()
                print(f"FAIL {full} ({time.monotonic() - t0:.1f}s)", flush=True)
                failed += 1
                failures.append(full)
            finally:
                harness.cleanup_after_test()
    print(f"integration total {time.monotonic() - t_all:.0f}s", flush=True)
    for f in failures:
        print(f"failed: {f}")
    print(f"integration: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
