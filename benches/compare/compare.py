"""Side by side: the official SRU++ (PyTorch) and sru-rs on identical configurations, one
table of ratios measured in the same run.

    bash benches/compare/setup.sh                       # once: the official code in a venv
    cargo build --release -p xtask                      # sru-rs
    benches/compare/.venv/bin/python benches/compare/compare.py [--quick] [--venv DIR]

Grid (issue #6): d in {512, 1024}, d' = d/4, 4 layers, L in {256, 1024}, B in {4, 16}, bytes.
--quick runs the first point only; --unroll 256 only the points with that L. Each side runs in its own process, one after the other.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON line in:\n" + text)


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    return last_json(r.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--venv", default=os.path.join(HERE, ".venv"))
    ap.add_argument("--xtask", default=os.path.join(ROOT, "target/release/xtask"))
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--unroll", type=int, help="only grid points with this L")
    a = ap.parse_args()
    py = os.path.join(a.venv, "bin/python")
    env = dict(os.environ, PATH=os.path.join(a.venv, "bin") + os.pathsep + os.environ["PATH"])
    grid = [(d, L, B) for d in (512, 1024) for L in (256, 1024) for B in (4, 16)]
    if a.unroll:
        grid = [g for g in grid if g[1] == a.unroll]
    if a.quick:
        grid = grid[:1]
    rows = []
    for d, L, B in grid:
        size = ["--d", str(d), "--proj", str(d // 4), "--layers", "4", "--unroll", str(L)]
        off = run([py, os.path.join(HERE, "official.py"), *size, "--batch", str(B),
                   "--iters", str(a.iters)], env)
        ours = run([a.xtask, "bench", "train-step", *size, "--batch-size", str(B),
                    "--iters", str(a.iters), "--json"])
        rec = run([a.xtask, "bench", "recurrence", "--d", str(d), "--unroll", str(L),
                   "--batch-size", str(B), "--json"])
        rows.append((d, L, B, off, ours, rec))
        print(f"done d{d} L{L} B{B}", file=sys.stderr, flush=True)
    off0 = rows[0][3]
    print(f"machine (torch {off0['torch']}, {off0['threads']} threads): copy "
          f"{off0['copy_gb_per_s']:.1f} GB/s, sgemm {off0['sgemm_gflops']:.1f} GFLOP/s\n")
    print("| d | L | B | train tok/s official | sru-rs | ratio | infer tok/s official | sru-rs "
          "| ratio | rec fwd Melem/s official | sru-rs | ratio | rec f+b Melem/s official "
          "| sru-rs | ratio | sru-rs train GFLOP/s | of sgemm | sru-rs rec fwd GB/s | of copy |")
    print("|" + "---|" * 20)
    for d, L, B, off, ours, rec in rows:
        r = lambda x, y: y / x if x else float("nan")  # noqa: E731
        fwd_gbs = rec["forward_gb_per_s"]
        print(f"| {d} | {L} | {B} "
              f"| {off['train_tokens_per_s']:.0f} | {ours['train_tokens_per_s']:.0f} "
              f"| {r(off['train_tokens_per_s'], ours['train_tokens_per_s']):.2f} "
              f"| {off['infer_tokens_per_s']:.0f} | {ours['infer_tokens_per_s']:.0f} "
              f"| {r(off['infer_tokens_per_s'], ours['infer_tokens_per_s']):.2f} "
              f"| {off['recurrence_forward_elements_per_s'] / 1e6:.0f} "
              f"| {rec['forward_elements_per_s'] / 1e6:.0f} "
              f"| {r(off['recurrence_forward_elements_per_s'], rec['forward_elements_per_s']):.2f} "
              f"| {off['recurrence_fwd_bwd_elements_per_s'] / 1e6:.1f} "
              f"| {rec['forward_backward_elements_per_s'] / 1e6:.0f} "
              f"| {r(off['recurrence_fwd_bwd_elements_per_s'], rec['forward_backward_elements_per_s']):.0f} "
              f"| {ours['train_gflops']:.1f} | {100 * ours['train_gflops'] / off0['sgemm_gflops']:.0f}% "
              f"| {fwd_gbs:.1f} | {100 * fwd_gbs / off0['copy_gb_per_s']:.0f}% |")


if __name__ == "__main__":
    main()
