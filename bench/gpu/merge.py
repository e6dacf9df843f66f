#!/usr/bin/env python3
"""Merges one bench/gpu/run.sh call into bench/results/gpu-<gpu>-<date>.json and computes issue 5's targets.

Reads the call's state folder (nvidia-smi-q.txt, steps.tsv, logs/<step>.log, results/<step>.json), updates the
results file of the same GPU and date when one exists (steps and results of this call replace earlier ones
of the same name, so separate calls on the GPU machine add up), recomputes every target from the merged
results, writes the file and prints its path. Standard library only.
"""
import argparse
import datetime
import json
import os
import re
import sys

# Issue 5's targets (medians, side by side in one run).
PREFILL_MIN = 0.9       # prefill attention >= 0.9x torch SDPA flash, head dim 128, causal and not
DECODE_MIN = 0.7        # decode attention >= 70% of the measured copy bandwidth at context >= 2048
DECODE_CONTEXT = 2048
GEMM_MIN = 0.95         # FFN GEMMs >= 0.95x torch.matmul
E2E_SPEEDUP_MIN = 3.0   # end-to-end decode >= 3x the transformers generate loop at batch 32 ...
E2E_ROOFLINE_MIN = 0.6  # ... and >= 60% of the memory-bandwidth roofline
E2E_BATCH = 32

SUMMARY_PATTERNS = (re.compile(r"\d+ passed, \d+ failed(?:, \d+ skipped)?"),
                    re.compile(r"\d+ ops checked, \d+ failed"),
                    re.compile(r"ERROR SUMMARY: \d+ errors?"))
LOG_TAIL_LINES = 30


# --- nvidia-smi -q ------------------------------------------------------------------------------------

def parse_nvidia_smi_q(text):
    """The indented 'Key : Value' report of nvidia-smi -q as nested dicts (a line without ' : ' opens a section)."""
    root = {}
    stack = [(-1, root)]
    for line in text.splitlines():
        body = line.strip()
        if not body or body.startswith("="):
            continue
        indent = len(line) - len(line.lstrip())
        while indent <= stack[-1][0]:
            stack.pop()
        parent = stack[-1][1]
        key, sep, value = body.partition(" : ")
        if sep:
            parent[key.strip()] = value.strip()
        elif body.endswith(":"):
            parent[body[:-1].strip()] = ""
        else:
            section = {}
            parent[body] = section
            stack.append((indent, section))
    return root


def find_path(tree, *path):
    """The value at path below any depth of tree (sections such as 'GPU 00000000:18:00.0' vary), or None."""
    node = tree
    for i, key in enumerate(path):
        if isinstance(node, dict) and key in node:
            node = node[key]
            continue
        if i == 0 and isinstance(tree, dict):
            for child in tree.values():
                found = find_path(child, *path) if isinstance(child, dict) else None
                if found is not None:
                    return found
        return None
    return node


def describe_gpu(smi):
    def first(*paths):
        for path in paths:
            value = find_path(smi, *path)
            if value not in (None, "", "N/A"):
                return value
        return None

    return {
        "name": first(("Product Name",)),
        "driver_version": first(("Driver Version",)),
        "cuda_version": first(("CUDA Version",), ("CUDA Driver Version",)),
        "memory_total": first(("FB Memory Usage", "Total")),
        "clocks_max_sm": first(("Max Clocks", "SM")),
        "clocks_max_memory": first(("Max Clocks", "Memory")),
        "clocks_sm_at_start": first(("Clocks", "SM")),
        "clocks_memory_at_start": first(("Clocks", "Memory")),
        "power_limit": first(("GPU Power Readings", "Current Power Limit"), ("Power Readings", "Current Power Limit"),
                             ("Power Readings", "Power Limit")),
        "power_limit_max": first(("GPU Power Readings", "Max Power Limit"), ("Power Readings", "Max Power Limit")),
        "performance_state": first(("Performance State",)),
        "persistence_mode": first(("Persistence Mode",)),
        "vbios_version": first(("VBIOS Version",)),
    }


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", (name or "unknown-gpu").lower()).strip("-")


# --- steps ---------------------------------------------------------------------------------------------

def read_steps(state, started):
    steps = {}
    path = os.path.join(state, "steps.tsv")
    if not os.path.exists(path):
        return steps
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 5:
                continue
            name, status, rc, seconds, note = fields[:5]
            step = {"status": status, "rc": int(rc) if rc.lstrip("-").isdigit() else None,
                    "seconds": int(seconds) if seconds.isdigit() else None, "run": started}
            if note:
                step["note"] = note
            log = os.path.join(state, "logs", name + ".log")
            if os.path.exists(log):
                with open(log, errors="replace") as lf:
                    lines = lf.read().splitlines()
                summaries = [m.group(0) for line_text in lines for p in SUMMARY_PATTERNS
                             for m in [p.search(line_text)] if m]
                if summaries:
                    step["summary"] = summaries[-1]
                if status != "passed":
                    step["log_tail"] = lines[-LOG_TAIL_LINES:]
            steps[name] = step
    return steps


def read_results(state):
    results = {}
    folder = os.path.join(state, "results")
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json"):
                with open(os.path.join(folder, name)) as f:
                    try:
                        results[name[:-5]] = json.load(f)
                    except json.JSONDecodeError as e:
                        results[name[:-5]] = {"error": f"unreadable JSON: {e}"}
    return results


# --- targets ---------------------------------------------------------------------------------------------

def combined(results, *names):
    """The sections of several result files of one program as one dict (later files win)."""
    out = {}
    for name in names:
        if isinstance(results.get(name), dict):
            out.update(results[name])
    return out


def verdict(values, threshold):
    return None if not values else min(values) >= threshold


def copy_denominator(exegpt, peers):
    """The device's measured copy bandwidth: torch's copy (the peer), else exegpt's own."""
    for source, doc in (("torch", peers), ("exegpt", exegpt)):
        gbps = (doc.get("copy") or {}).get("gbps")
        if gbps:
            return gbps, source
    return None, None


def prefill_target(exegpt, peers):
    """Pairs exegpt's fresh-sequence rows (past 0) with torch's by shape and causality; the target holds for
    causal and bidirectional attention alike, so the worst ratio at head dim 128 decides."""
    def key(r):
        return (r["length"], r["batch"], r["heads"], r["head_dim"], bool(r.get("causal", True)))
    mine = {key(r): r for r in exegpt.get("prefill_attention", []) if r.get("past") == 0 and "tflops" in r}
    rows, ratios = [], []
    for p in peers.get("prefill_attention", []):
        row = {"length": p["length"], "batch": p["batch"], "heads": p["heads"], "head_dim": p["head_dim"],
               "causal": bool(p.get("causal")), "torch_tflops": p["tflops"]}
        if key(p) in mine:
            row["exegpt_tflops"] = mine[key(p)]["tflops"]
            row["ratio"] = mine[key(p)]["tflops"] / p["tflops"]
            if p["head_dim"] == 128:
                ratios.append(row["ratio"])
        rows.append(row)
    return {"name": "prefill_attention",
            "goal": f">= {PREFILL_MIN}x torch SDPA (flash backend), head dim 128, every length, causal and not",
            "threshold": PREFILL_MIN, "ratio": min(ratios) if ratios else None,
            "pass": verdict(ratios, PREFILL_MIN), "rows": rows,
            "note": "exegpt's prefill over a cached prefix (past = length) is in its own results"}


def decode_target(exegpt, peers):
    denominator, source = copy_denominator(exegpt, peers)
    rows, ratios = [], []
    for r in exegpt.get("decode_attention", []):
        if "gbps" not in r:
            continue
        row = {"batch": r["batch"], "context": r["context"], "gbps": r["gbps"]}
        if denominator:
            row["fraction_of_copy"] = r["gbps"] / denominator
            if r["context"] >= DECODE_CONTEXT:
                ratios.append(row["fraction_of_copy"])
        rows.append(row)
    return {"name": "decode_attention",
            "goal": f">= {DECODE_MIN:.0%} of the measured copy bandwidth at context >= {DECODE_CONTEXT}, every batch",
            "threshold": DECODE_MIN, "copy_gbps": denominator, "copy_source": source,
            "ratio": min(ratios) if ratios else None, "pass": verdict(ratios, DECODE_MIN), "rows": rows}


def gemm_target(exegpt, peers):
    torch_rows = {(r["layer"], r["m"], r["variant"]): r for r in peers.get("gemm", [])}
    rows, ratios = [], []
    for r in exegpt.get("gemm", []):
        if "tflops" not in r:
            continue
        row = {"layer": r["layer"], "m": r["m"], "n": r["n"], "k": r["k"], "epilogue": r["epilogue"],
               "exegpt_tflops": r["tflops"]}
        if r["epilogue"] == "none":
            peer = torch_rows.get((r["layer"], r["m"], "matmul"))
            row["torch"] = "matmul"
        else:  # torch's faster way to the same result
            candidates = [torch_rows.get((r["layer"], r["m"], v)) for v in ("matmul_bias_relu", "linear_relu")]
            candidates = [c for c in candidates if c]
            peer = max(candidates, key=lambda c: c["tflops"]) if candidates else None
            if peer:
                row["torch"] = peer["variant"]
        if peer:
            row["torch_tflops"] = peer["tflops"]
            row["ratio"] = r["tflops"] / peer["tflops"]
            ratios.append(row["ratio"])
        rows.append(row)
    return {"name": "ffn_gemm",
            "goal": f">= {GEMM_MIN}x torch (plain: torch.matmul; bias+ReLU: the faster of matmul + bias + relu and "
                    "F.linear + relu), OPT-13B fc1/fc2, every m",
            "threshold": GEMM_MIN, "ratio": min(ratios) if ratios else None, "pass": verdict(ratios, GEMM_MIN),
            "rows": rows}


def e2e_targets(exegpt, peers):
    mine = exegpt.get("decode_e2e") or {}
    theirs = peers.get("generate") or {}
    denominator, source = copy_denominator(exegpt, peers)
    torch_rows = {r["batch"]: r for r in theirs.get("rows", [])}
    rows = []
    for r in mine.get("rows", []):
        row = {"batch": r["batch"], "exegpt_tokens_per_s": r["decode_tokens_per_s"]}
        peer = torch_rows.get(r["batch"])
        if peer and peer.get("decode_tokens_per_s"):
            row["transformers_tokens_per_s"] = peer["decode_tokens_per_s"]
            row["speedup"] = r["decode_tokens_per_s"] / peer["decode_tokens_per_s"]
        if denominator and r.get("bytes_per_step"):
            row["roofline_tokens_per_s"] = r["batch"] / (r["bytes_per_step"] / (denominator * 1e9))
            row["fraction_of_roofline"] = r["decode_tokens_per_s"] / row["roofline_tokens_per_s"]
        rows.append(row)
    at = next((row for row in rows if row["batch"] == E2E_BATCH), {})
    speedup, fraction = at.get("speedup"), at.get("fraction_of_roofline")
    return [
        {"name": "e2e_decode_vs_transformers",
         "goal": f">= {E2E_SPEEDUP_MIN}x the transformers generate loop at batch {E2E_BATCH} (OPT-13B shape)",
         "threshold": E2E_SPEEDUP_MIN, "ratio": speedup,
         "pass": None if speedup is None else speedup >= E2E_SPEEDUP_MIN, "rows": rows,
         "weights": {"exegpt": (mine.get("model") or {}).get("weights"),
                     "transformers": (theirs.get("model") or {}).get("weights")}},
        {"name": "e2e_decode_vs_roofline",
         "goal": f">= {E2E_ROOFLINE_MIN:.0%} of the memory-bandwidth roofline at batch {E2E_BATCH}: batch / ((weight "
                 "bytes + KV bytes read per step) / measured copy bandwidth)",
         "threshold": E2E_ROOFLINE_MIN, "copy_gbps": denominator, "copy_source": source, "ratio": fraction,
         "pass": None if fraction is None else fraction >= E2E_ROOFLINE_MIN,
         "lowest_fraction_any_batch": min((row["fraction_of_roofline"] for row in rows
                                           if "fraction_of_roofline" in row), default=None)},
    ]


def targets(results):
    exegpt = combined(results, "exegpt-kernels", "exegpt-e2e")
    peers = combined(results, "peers-kernels", "peers-e2e")
    return [prefill_target(exegpt, peers), decode_target(exegpt, peers), gemm_target(exegpt, peers),
            *e2e_targets(exegpt, peers)]


# --- the merge --------------------------------------------------------------------------------------------

def merge(state, results_dir, revision, started, command):
    smi_path = os.path.join(state, "nvidia-smi-q.txt")
    smi = {}
    if os.path.exists(smi_path):
        with open(smi_path, errors="replace") as f:
            smi = parse_nvidia_smi_q(f.read())
    gpu = describe_gpu(smi)
    date = (started or datetime.datetime.now(datetime.timezone.utc).isoformat())[:10]
    path = os.path.join(results_dir, f"gpu-{slug(gpu['name'])}-{date}.json")
    doc = {}
    if os.path.exists(path):
        with open(path) as f:
            doc = json.load(f)

    steps = read_steps(state, started)
    doc_steps = dict(doc.get("steps", {}))
    # A step this call left out for time keeps the result an earlier call recorded.
    doc_steps.update({name: step for name, step in steps.items()
                      if step["status"] != "not run" or name not in doc_steps})
    doc_results = dict(doc.get("results", {}))
    doc_results.update(read_results(state))
    runs = [r for r in doc.get("runs", []) if r.get("started") != started]
    runs.append({"started": started,
                 "updated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "command": command, "revision": revision, "steps": list(steps)})

    merged = {
        "benchmark": "bench/gpu/run.sh",
        "gpu": gpu,
        "revision": revision,
        "runs": runs,
        "steps": doc_steps,
        "targets": targets(doc_results),
        "results": doc_results,
        "nvidia_smi_q": smi or doc.get("nvidia_smi_q", {}),
    }
    os.makedirs(results_dir, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(merged, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return path


def main(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--state", required=True, help="run.sh's state folder (build/gpu-run)")
    p.add_argument("--results-dir", default="bench/results")
    p.add_argument("--revision", default="unknown")
    p.add_argument("--started", required=True, help="this call's start, UTC ISO 8601 (names the run)")
    p.add_argument("--command", default="")
    args = p.parse_args(argv)
    print(merge(args.state, args.results_dir, args.revision, args.started, args.command))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
