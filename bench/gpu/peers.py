#!/usr/bin/env python3
"""PyTorch peers of exegpt-gpu-bench (issue 5's targets), measured on the GPU machine by bench/gpu/run.sh.

Sections (same shapes and throughput definitions as native/bench/gpu, whose defaults these mirror):
  copy     torch device-to-device copy of 1 GiB: GB/s = (bytes read + written) / time, the denominator of the
           decode-attention target
  prefill  scaled_dot_product_attention with the flash backend forced, causal and not: TFLOP/s with
           4 x head_dim FLOPs per (query, key) pair, the causal square counted as half
  gemm     OPT-13B FFN GEMMs: torch.matmul alone, matmul + bias add + relu, and F.linear + relu
  e2e      a Hugging Face transformers generate loop (greedy, min_new_tokens = max_new_tokens) on an
           OPT-13B-shaped OPTForCausalLM with random weights built on the GPU in bf16; decode tokens/s =
           batch x (new - 1) / (time(new tokens) - time(1 token)), the first token coming from the prefill.
           --checkpoint DIR saves that model (save_pretrained, safetensors) for exegpt-gpu-bench to load.

Kernel timings: CUDA events; the median over --samples samples, each sample back-to-back calls filling about
10 ms (after a warm-up call), as exegpt-gpu-bench samples its calls.

torch is imported inside the functions so --help and py_compile work on machines without it.
"""
import argparse
import datetime
import json
import math
import os
import statistics
import sys
import time
import traceback

SECTIONS = ("copy", "prefill", "gemm", "e2e")
# The OPT-13B shape (Hugging Face facebook/opt-13b config.json, as exegpt's "opt-13b" preset).
OPT_13B = dict(vocab_size=50272, hidden_size=5120, num_hidden_layers=40, num_attention_heads=40, ffn_dim=20480,
               max_position_embeddings=2048, word_embed_proj_dim=5120, activation_function="relu",
               do_layer_norm_before=True, enable_bias=True, layer_norm_elementwise_affine=True,
               pad_token_id=1, bos_token_id=2, eos_token_id=2)
# What exegpt's checkpoint reader requires in config.json (native/src/core/model_config.cpp).
REQUIRED_CONFIG_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "ffn_dim",
                        "max_position_embeddings")


def int_list(text):
    values = [int(v) for v in text.split(",") if v]
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive integers separated by commas, got '{text}'")
    return values


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return value


def section_list(text):
    names = [s for s in text.split(",") if s]
    for name in names:
        if name not in SECTIONS:
            raise argparse.ArgumentTypeError(f"unknown section '{name}' ({', '.join(SECTIONS)})")
    return names


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", type=section_list, default=list(SECTIONS), help="sections, comma-separated")
    p.add_argument("--dtype", choices=("bf16", "f16"), default="bf16")
    p.add_argument("--samples", type=positive_int, default=11)
    p.add_argument("--copy-mib", type=positive_int, default=1024)
    p.add_argument("--prefill-lengths", type=int_list, default=[512, 1024, 2048, 4096, 8192])
    p.add_argument("--prefill-tokens", type=positive_int, default=8192, help="batch = max(1, tokens / length)")
    p.add_argument("--prefill-heads", type=positive_int, default=32)
    p.add_argument("--head-dim", type=positive_int, default=128)
    p.add_argument("--gemm-m", type=int_list, default=[1, 16, 128, 512, 2048, 8192])
    p.add_argument("--hidden", type=positive_int, default=5120)
    p.add_argument("--ffn", type=positive_int, default=20480)
    p.add_argument("--e2e-batches", type=int_list, default=[1, 4, 16, 32, 64, 128])
    p.add_argument("--prompt-len", type=positive_int, default=128)
    p.add_argument("--new-tokens", type=positive_int, default=128)
    p.add_argument("--layers", type=positive_int, default=OPT_13B["num_hidden_layers"],
                   help="decoder layers of the OPT-13B-shaped model (fewer for quick runs)")
    p.add_argument("--rounds", type=positive_int, default=2, help="timed generate calls per batch and length")
    p.add_argument("--checkpoint", help="save the e2e model here (save_pretrained) for exegpt-gpu-bench")
    p.add_argument("--out", help="JSON results file (default: stdout)")
    args = p.parse_args(argv)
    if args.new_tokens < 2:
        p.error("--new-tokens must be at least 2 (one prefill token, one decode step)")
    return args


def storage_dtype(torch, name):
    return torch.bfloat16 if name == "bf16" else torch.float16


def time_calls(torch, call, samples, target_s=0.01):
    """Median seconds per call (see the module docstring); call(i) gets a running call index."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    index = 0
    call(index)
    index += 1
    torch.cuda.synchronize()
    start.record()
    call(index)
    index += 1
    end.record()
    end.synchronize()
    probe_s = start.elapsed_time(end) / 1e3
    inner = int(min(max(math.ceil(target_s / max(probe_s, 1e-7)), 1), 10000))
    per_call = []
    for _ in range(samples):
        start.record()
        for _ in range(inner):
            call(index)
            index += 1
        end.record()
        end.synchronize()
        per_call.append(start.elapsed_time(end) / 1e3 / inner)
    return {"median_ms": statistics.median(per_call) * 1e3, "inner": inner, "samples": samples}


def bench_copy(torch, args):
    nbytes = args.copy_mib << 20
    src = torch.empty(nbytes, dtype=torch.uint8, device="cuda").random_()
    dst = torch.empty_like(src)
    row = time_calls(torch, lambda i: dst.copy_(src), args.samples)
    row["bytes"] = nbytes
    row["gbps"] = 2.0 * nbytes / (row["median_ms"] / 1e3) / 1e9
    print(f"  copy {args.copy_mib} MiB: {row['median_ms']:.3f} ms, {row['gbps']:.1f} GB/s (read + write)", flush=True)
    return row


def bench_prefill(torch, args):
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    import torch.nn.attention as attention

    dtype = storage_dtype(torch, args.dtype)
    heads, d = args.prefill_heads, args.head_dim
    # Which flash implementation the flash backend runs (newer torch can switch it; the default otherwise).
    current = getattr(attention, "current_flash_attention_impl", None)
    flash_impl = str(current()) if current else "default"
    rows = []
    for length in args.prefill_lengths:
        batch = max(1, args.prefill_tokens // length)
        q, k, v = (torch.randn(batch, heads, length, d, device="cuda", dtype=dtype) for _ in range(3))
        for causal in (True, False):
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                row = time_calls(torch, lambda i: F.scaled_dot_product_attention(q, k, v, is_causal=causal),
                                 args.samples)
            pairs = 0.5 * length * length if causal else float(length) * length
            row.update(batch=batch, length=length, heads=heads, head_dim=d, causal=causal, flash_impl=flash_impl,
                       tflops=4.0 * d * heads * batch * pairs / (row["median_ms"] / 1e3) / 1e12)
            print(f"  sdpa flash batch {batch:3d} x {length:5d} tokens, {'causal    ' if causal else 'non-causal'}: "
                  f"{row['median_ms']:8.3f} ms {row['tflops']:7.1f} TFLOP/s", flush=True)
            rows.append(row)
    return rows


def bench_gemm(torch, args):
    import torch.nn.functional as F

    dtype = storage_dtype(torch, args.dtype)
    rows = []
    for layer, n, k in (("fc1", args.ffn, args.hidden), ("fc2", args.hidden, args.ffn)):
        # Hugging Face [out, in] weights, the init scale of the model (0.02).
        w = torch.randn(n, k, device="cuda", dtype=dtype) * 0.02
        bias = torch.randn(n, device="cuda", dtype=dtype) * 0.02
        wt = w.t()
        for m in args.gemm_m:
            x = torch.randn(m, k, device="cuda", dtype=dtype)
            variants = {
                "matmul": lambda i: torch.matmul(x, wt),
                "matmul_bias_relu": lambda i: torch.relu(torch.matmul(x, wt) + bias),
                "linear_relu": lambda i: torch.relu(F.linear(x, w, bias)),
            }
            for name, call in variants.items():
                row = time_calls(torch, call, args.samples)
                row.update(layer=layer, m=m, n=n, k=k, variant=name,
                           tflops=2.0 * m * n * k / (row["median_ms"] / 1e3) / 1e12)
                print(f"  torch {layer} m={m:5d} {name:16s}: {row['median_ms']:8.3f} ms {row['tflops']:7.1f} TFLOP/s",
                      flush=True)
                rows.append(row)
    return rows


def build_model(torch, args):
    import transformers
    from transformers import OPTConfig, OPTForCausalLM

    transformers.logging.set_verbosity_error()
    config = OPTConfig(**dict(OPT_13B, num_hidden_layers=args.layers))
    torch.manual_seed(13)
    # Parameters are created in the storage dtype directly on the GPU: an f32 copy of 13B parameters first
    # would need 52 GB more.
    dtype = storage_dtype(torch, args.dtype)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device("cuda"):
            model = OPTForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    # Should a transformers version pick the dtype from the config instead (v5 names it config.dtype), convert
    # tensor by tensor: a no-op when construction already used the default dtype.
    if any(p.dtype != dtype for p in model.parameters()):
        model.to(dtype)
    return config, model.eval()


def save_checkpoint(model, config, directory):
    """save_pretrained (safetensors), with the config.json fields exegpt's reader requires spelled out."""
    os.makedirs(directory, exist_ok=True)
    model.save_pretrained(directory)
    files = os.listdir(directory)
    if "model.safetensors" not in files and "model.safetensors.index.json" not in files:
        raise RuntimeError(f"save_pretrained wrote no safetensors into {directory} (found {sorted(files)})")
    path = os.path.join(directory, "config.json")
    with open(path) as f:
        saved = json.load(f)
    full = config.to_dict()
    missing = [key for key in REQUIRED_CONFIG_KEYS if key not in saved]
    if missing:  # save_pretrained leaves out values equal to the defaults
        saved.update({key: full[key] for key in missing})
        with open(path, "w") as f:
            json.dump(saved, f, indent=2)


def bench_e2e(torch, args):
    import transformers

    t0 = time.perf_counter()
    config, model = build_model(torch, args)
    result = {"model": {"weights": "random (transformers init, torch seed 13)", "layers": args.layers,
                        "hidden": config.hidden_size, "heads": config.num_attention_heads, "ffn": config.ffn_dim,
                        "vocab": config.vocab_size,
                        "parameter_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
                        "dtype": str(next(model.parameters()).dtype),
                        "attention": getattr(model.config, "_attn_implementation", None),
                        "build_s": time.perf_counter() - t0},
              "transformers": transformers.__version__, "prompt_len": args.prompt_len,
              "new_tokens": args.new_tokens, "rounds": args.rounds}
    print(f"  model: {args.layers} layers, {result['model']['parameter_bytes'] / 1e9:.2f} GB, "
          f"built in {result['model']['build_s']:.1f} s", flush=True)
    if args.checkpoint:
        t0 = time.perf_counter()
        save_checkpoint(model, config, args.checkpoint)
        result["model"]["checkpoint"] = args.checkpoint
        result["model"]["save_s"] = time.perf_counter() - t0
        print(f"  saved to {args.checkpoint} in {result['model']['save_s']:.1f} s", flush=True)

    generator = torch.Generator(device="cuda").manual_seed(5)

    def generate(ids, new_tokens):
        torch.cuda.synchronize()
        t = time.perf_counter()
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                             min_new_tokens=new_tokens, do_sample=False, num_beams=1, use_cache=True,
                             pad_token_id=config.pad_token_id, eos_token_id=config.eos_token_id)
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - t
        if out.shape[1] != ids.shape[1] + new_tokens:
            raise RuntimeError(f"generate returned {out.shape[1] - ids.shape[1]} new tokens, not {new_tokens}")
        return elapsed

    rows = []
    with torch.inference_mode():
        for batch in args.e2e_batches:
            # Token ids past OPT's pad/bos/eos, as exegpt-gpu-bench draws them.
            ids = torch.randint(3, config.vocab_size, (batch, args.prompt_len), device="cuda", generator=generator)
            generate(ids, min(args.new_tokens, 4))  # warm-up
            first = statistics.median(generate(ids, 1) for _ in range(args.rounds))
            full = statistics.median(generate(ids, args.new_tokens) for _ in range(args.rounds))
            decode_s = full - first
            row = {"batch": batch, "prefill_s": first, "total_s": full, "decode_s": decode_s,
                   "decode_tokens_per_s": batch * (args.new_tokens - 1) / decode_s if decode_s > 0 else 0.0}
            print(f"  generate batch {batch:3d}: {row['decode_tokens_per_s']:9.1f} decode tokens/s "
                  f"(prefill {first:.3f} s, {args.new_tokens} tokens {full:.3f} s)", flush=True)
            rows.append(row)
    result["rows"] = rows
    return result


def describe_device(torch):
    props = torch.cuda.get_device_properties(0)
    return {"name": props.name, "multiprocessors": props.multi_processor_count,
            "total_memory": props.total_memory, "compute_capability": props.major * 10 + props.minor}


def main(argv):
    args = parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("peers.py: torch sees no CUDA device", file=sys.stderr)
        return 1
    doc = {"benchmark": "peers.py",
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "torch": torch.__version__, "cuda": torch.version.cuda, "device": describe_device(torch),
           "settings": {k: v for k, v in vars(args).items() if k not in ("out", "only")},
           "statistic": "median of --samples samples; a sample = back-to-back calls filling ~10 ms between two "
                        "CUDA events, after one warm-up call"}
    print(f"peers.py on {doc['device']['name']} (torch {torch.__version__})", flush=True)
    errors = {}
    sections = {"copy": ("copy", bench_copy), "prefill": ("prefill_attention", bench_prefill),
                "gemm": ("gemm", bench_gemm), "e2e": ("generate", bench_e2e)}
    for name in SECTIONS:
        if name not in args.only:
            continue
        key, run = sections[name]
        try:
            doc[key] = run(torch, args)
        except Exception as e:  # one failing section must not hide the others' numbers
            traceback.print_exc()
            errors[name] = f"{type(e).__name__}: {e}"
        torch.cuda.empty_cache()
    doc["errors"] = errors
    text = json.dumps(doc, indent=2) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"results written to {args.out}")
    else:
        sys.stdout.write(text)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
