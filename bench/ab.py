#!/usr/bin/env python3
"""Interleaved A/B timing of whole commands: bench/ab.py [-n RUNS] [-w WARMUP] [-l LABELS] CMD...

hyperfine runs each command's runs back to back. On this shared 2-vCPU VM that
order alone moved a command's median by up to 0.5 ms (the same binary measured
0.4 ms apart as the first and as the last of a run), which is the size of the
changes one wants to compare. This runs every round in a fresh random order, so
drift lands on every command alike, and prints each command's median and
quartiles and its ratio to the first command's median. -l names the commands
in the table (comma-separated, in order).

Each CMD is one argument, split like a shell would split it (no shell runs);
output goes to /dev/null; a command that fails is reported and counted. Run it
as the user the commands should run as (setpriv, env -i), as bench/run.sh does.
"""
import argparse
import os
import random
import shlex
import statistics
import sys
import time


def spawn(argv, devnull):
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
    start = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    return time.perf_counter() - start, status


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--runs", type=int, default=200)
    ap.add_argument("-w", "--warmup", type=int, default=10)
    ap.add_argument("-l", "--labels", default="")
    ap.add_argument("commands", nargs="+", metavar="CMD")
    a = ap.parse_args()
    if a.runs < 2:
        ap.error("-n: at least 2 rounds (quartiles need two)")
    cmds = [shlex.split(c) for c in a.commands]
    labels = a.labels.split(",") if a.labels else a.commands
    if len(labels) != len(cmds):
        ap.error("-l: one label per command")
    devnull = os.open(os.devnull, os.O_RDWR)
    times = [[] for _ in cmds]
    failed = [0] * len(cmds)
    for _ in range(a.warmup):
        for argv in cmds:
            spawn(argv, devnull)
    for _ in range(a.runs):
        order = list(range(len(cmds)))
        random.shuffle(order)
        for k in order:
            t, status = spawn(cmds[k], devnull)
            times[k].append(t)
            failed[k] += status != 0
    base = statistics.median(times[0])
    print("| command | median | p25–p75 | ratio | failed |")
    print("|---|---:|---:|---:|---:|")
    for c, t, f in zip(labels, times, failed):
        q = statistics.quantiles(t, n=4)
        print(f"| `{c}` | {statistics.median(t) * 1e3:.2f} ms | {q[0] * 1e3:.2f}–{q[2] * 1e3:.2f} ms "
              f"| {statistics.median(t) / base:.2f}× | {f} |")
    return 1 if any(failed) else 0


if __name__ == "__main__":
    sys.exit(main())
