#!/usr/bin/env python3
"""Tests of bench/gpu/merge.py on a hand-made run (no GPU needed):  python3 -m unittest bench/gpu/test_merge.py"""
import json
import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import merge  # noqa: E402

SMI = """
==============NVSMI LOG==============

Timestamp                                 : Sat Nov 22 10:00:00 2026
Driver Version                            : 580.159.04
CUDA Version                              : 13.0

Attached GPUs                             : 1
GPU 00000000:00:07.0
    Product Name                          : NVIDIA H100 80GB HBM3
    Persistence Mode                      : Enabled
    FB Memory Usage
        Total                             : 81559 MiB
        Used                              : 0 MiB
    Performance State                     : P0
    GPU Power Readings
        Current Power Limit               : 700.00 W
        Max Power Limit                   : 700.00 W
    Clocks
        Graphics                          : 345 MHz
        SM                                : 345 MHz
        Memory                            : 2619 MHz
    Max Clocks
        Graphics                          : 1980 MHz
        SM                                : 1980 MHz
        Memory                            : 2619 MHz
    Processes                             : None
"""

EXEGPT_KERNELS = {
    "copy": {"gbps": 3000.0},
    "prefill_attention": [
        {"batch": 16, "length": 512, "past": 0, "causal": True, "heads": 32, "head_dim": 128, "tflops": 450.0},
        {"batch": 16, "length": 512, "past": 0, "causal": False, "heads": 32, "head_dim": 128, "tflops": 494.0},
        {"batch": 16, "length": 512, "past": 512, "causal": True, "heads": 32, "head_dim": 128, "tflops": 500.0},
        {"batch": 1, "length": 8192, "past": 0, "causal": True, "heads": 32, "head_dim": 128, "tflops": 540.0},
    ],
    "decode_attention": [
        {"batch": 1, "context": 512, "gbps": 1000.0},
        {"batch": 1, "context": 2048, "gbps": 2000.0},
        {"batch": 64, "context": 8192, "gbps": 2700.0},
        {"batch": 256, "context": 8192, "cache_copies": 1, "skipped": "needs 99999 MiB, 70000 MiB free"},
    ],
    "gemm": [
        {"layer": "fc1", "m": 1, "n": 20480, "k": 5120, "epilogue": "none", "tflops": 60.0},
        {"layer": "fc1", "m": 1, "n": 20480, "k": 5120, "epilogue": "bias_relu", "tflops": 58.0},
    ],
}
PEERS_KERNELS = {
    "copy": {"gbps": 2500.0},
    "prefill_attention": [
        {"batch": 16, "length": 512, "heads": 32, "head_dim": 128, "causal": True, "tflops": 400.0},
        {"batch": 16, "length": 512, "heads": 32, "head_dim": 128, "causal": False, "tflops": 520.0},
        {"batch": 1, "length": 8192, "heads": 32, "head_dim": 128, "causal": True, "tflops": 600.0},
    ],
    "gemm": [
        {"layer": "fc1", "m": 1, "n": 20480, "k": 5120, "variant": "matmul", "tflops": 50.0},
        {"layer": "fc1", "m": 1, "n": 20480, "k": 5120, "variant": "matmul_bias_relu", "tflops": 40.0},
        {"layer": "fc1", "m": 1, "n": 20480, "k": 5120, "variant": "linear_relu", "tflops": 45.0},
    ],
}
EXEGPT_E2E = {"decode_e2e": {"model": {"weights": "seeded random (opt-13b preset)"}, "copy_gbps": 3000.0, "rows": [
    {"batch": 1, "decode_tokens_per_s": 80.0, "bytes_per_step": 26e9},
    {"batch": 32, "decode_tokens_per_s": 2000.0, "bytes_per_step": 28e9},
]}}
PEERS_E2E = {"generate": {"model": {"weights": "random"}, "rows": [
    {"batch": 1, "decode_tokens_per_s": 30.0},
    {"batch": 32, "decode_tokens_per_s": 500.0},
]}}


def write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content))


class MergeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.state = os.path.join(self.tmp.name, "state")
        self.results = os.path.join(self.tmp.name, "results")
        write(os.path.join(self.state, "nvidia-smi-q.txt"), SMI)

    def tearDown(self):
        self.tmp.cleanup()

    def run_merge(self, steps, results, started):
        write(os.path.join(self.state, "steps.tsv"), "".join("\t".join(s) + "\n" for s in steps))
        for name, doc in results.items():
            write(os.path.join(self.state, "results", name + ".json"), doc)
        path = merge.merge(self.state, self.results, "abc123", started, "bash bench/gpu/run.sh")
        with open(path) as f:
            return path, json.load(f)

    def test_nvidia_smi_description(self):
        gpu = merge.describe_gpu(merge.parse_nvidia_smi_q(SMI))
        self.assertEqual(gpu["name"], "NVIDIA H100 80GB HBM3")
        self.assertEqual(gpu["driver_version"], "580.159.04")
        self.assertEqual(gpu["cuda_version"], "13.0")
        self.assertEqual(gpu["memory_total"], "81559 MiB")
        self.assertEqual(gpu["clocks_max_sm"], "1980 MHz")
        self.assertEqual(gpu["clocks_sm_at_start"], "345 MHz")
        self.assertEqual(gpu["power_limit"], "700.00 W")
        self.assertEqual(merge.slug(gpu["name"]), "nvidia-h100-80gb-hbm3")

    def test_targets_and_file_name(self):
        write(os.path.join(self.state, "logs", "nccl.log"), "checking\n3 passed, 0 failed, 1 skipped\n")
        write(os.path.join(self.state, "logs", "memcheck.log"), "========= ERROR SUMMARY: 2 errors\n")
        path, doc = self.run_merge(
            [("nccl", "passed", "0", "12", ""), ("memcheck", "failed", "1", "40", "")],
            {"exegpt-kernels": EXEGPT_KERNELS, "peers-kernels": PEERS_KERNELS, "exegpt-e2e": EXEGPT_E2E,
             "peers-e2e": PEERS_E2E},
            "2026-11-22T10:00:00Z")
        self.assertTrue(path.endswith("gpu-nvidia-h100-80gb-hbm3-2026-11-22.json"))
        self.assertEqual(doc["steps"]["nccl"]["summary"], "3 passed, 0 failed, 1 skipped")
        self.assertNotIn("log_tail", doc["steps"]["nccl"])
        self.assertEqual(doc["steps"]["memcheck"]["summary"], "ERROR SUMMARY: 2 errors")
        self.assertEqual(doc["steps"]["memcheck"]["log_tail"], ["========= ERROR SUMMARY: 2 errors"])
        t = {x["name"]: x for x in doc["targets"]}

        prefill = t["prefill_attention"]  # 450/400, 494/520 (bidirectional) and 540/600: the worst decides
        self.assertAlmostEqual(prefill["ratio"], 0.9)
        self.assertTrue(prefill["pass"])
        self.assertAlmostEqual(prefill["rows"][0]["ratio"], 450 / 400)
        self.assertAlmostEqual(prefill["rows"][1]["ratio"], 494 / 520)
        self.assertFalse(prefill["rows"][1]["causal"])

        decode = t["decode_attention"]  # over torch's copy (2500 GB/s), contexts >= 2048 only, skipped rows out
        self.assertEqual(decode["copy_source"], "torch")
        self.assertAlmostEqual(decode["ratio"], 2000 / 2500)
        self.assertTrue(decode["pass"])
        self.assertEqual(len(decode["rows"]), 3)

        gemm = t["ffn_gemm"]  # plain vs matmul 60/50; bias+relu vs the faster torch way (linear_relu, 45)
        rows = {r["epilogue"]: r for r in gemm["rows"]}
        self.assertAlmostEqual(rows["none"]["ratio"], 1.2)
        self.assertEqual(rows["bias_relu"]["torch"], "linear_relu")
        self.assertAlmostEqual(rows["bias_relu"]["ratio"], 58 / 45)
        self.assertTrue(gemm["pass"])

        speed = t["e2e_decode_vs_transformers"]
        self.assertAlmostEqual(speed["ratio"], 4.0)
        self.assertTrue(speed["pass"])
        roof = t["e2e_decode_vs_roofline"]  # 32 / (28e9 B / 2500e9 B/s) = 2857 tokens/s roofline
        self.assertAlmostEqual(roof["ratio"], 2000 / (32 / (28e9 / 2500e9)))
        self.assertTrue(roof["pass"])
        self.assertEqual(doc["gpu"]["name"], "NVIDIA H100 80GB HBM3")

    def test_missing_sides_give_no_verdict(self):
        _, doc = self.run_merge([], {"exegpt-kernels": {"prefill_attention": EXEGPT_KERNELS["prefill_attention"]}},
                                "2026-11-22T10:00:00Z")
        for target in doc["targets"]:
            self.assertIsNone(target["pass"], target["name"])
            self.assertIsNone(target["ratio"], target["name"])

    def test_calls_add_up(self):
        self.run_merge([("exegpt-kernels", "passed", "0", "100", "")], {"exegpt-kernels": EXEGPT_KERNELS},
                       "2026-11-22T10:00:00Z")
        # A second call (a fresh state folder) adds the peers and keeps the first call's results and steps.
        for name in os.listdir(os.path.join(self.state, "results")):
            os.remove(os.path.join(self.state, "results", name))
        _, doc = self.run_merge([("peers-kernels", "passed", "0", "90", "")], {"peers-kernels": PEERS_KERNELS},
                                "2026-11-22T11:00:00Z")
        self.assertEqual(set(doc["steps"]), {"exegpt-kernels", "peers-kernels"})
        self.assertEqual(set(doc["results"]), {"exegpt-kernels", "peers-kernels"})
        self.assertEqual([r["started"] for r in doc["runs"]], ["2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z"])
        self.assertTrue({x["name"]: x for x in doc["targets"]}["prefill_attention"]["pass"])
        # Merging again within the same call replaces that call's entry instead of adding one.
        _, doc = self.run_merge([("peers-kernels", "failed", "1", "90", "")], {}, "2026-11-22T11:00:00Z")
        self.assertEqual(len(doc["runs"]), 2)
        self.assertEqual(doc["steps"]["peers-kernels"]["status"], "failed")
        # A later call that had no time for a step keeps the earlier call's record of it; a step never run
        # before is recorded as not run.
        _, doc = self.run_merge([("exegpt-kernels", "not run", "", "0", "time budget"),
                                 ("exegpt-e2e", "not run", "", "0", "time budget")], {}, "2026-11-22T12:00:00Z")
        self.assertEqual(doc["steps"]["exegpt-kernels"]["status"], "passed")
        self.assertEqual(doc["steps"]["exegpt-e2e"]["status"], "not run")


if __name__ == "__main__":
    unittest.main()
