#!/usr/bin/env python3
"""Rewrites the kernel launches of a CUDA source for the CPU emulation (include/cuda_runtime.h):
    name<tmpl><<<grid, block, smem, stream>>>(args);  ->  ::emu::launch(&name<tmpl>, grid, block, smem, stream, args);
Everything else is left as written, so the tests run the kernels' real source. Line numbers are kept
(a launch spread over several lines keeps its line breaks) and a #line directive names the original
file, so compiler errors point into native/src. Fails when a launch is not recognised.

usage: transform.py INPUT.cu OUTPUT.cpp
"""
import os
import re
import sys

LAUNCH = re.compile(r'([A-Za-z_]\w*(?:<[^;<>]*>)?)\s*<<<(.*?)>>>\s*\((.*?)\)\s*;', re.S)
GUARD = """// Generated from {src} by tests/native/cuda_emu/transform.py: do not edit.
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#if !defined(EXG_CUDA_EMU) || !defined(EXG_CUDA_EMU_FP16) || !defined(EXG_CUDA_EMU_BF16)
#error "the real CUDA headers were found before tests/native/cuda_emu/include"
#endif
#line 1 "{src}"
"""


def rewrite(match):
    name, config, args = match.group(1), match.group(2), match.group(3)
    parts = [x.strip() for x in config.rsplit(',', 3)]
    if len(parts) != 4:
        raise SystemExit(f"transform.py: launch of {name} must give grid, block, shared memory and stream: <<<{config}>>>")
    newlines = match.group(0).count('\n')
    return f"::emu::launch(&{name}, {', '.join(parts)}, {args});" + '\n' * newlines


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding='utf-8') as f:
        text = f.read()
    out, count = LAUNCH.subn(rewrite, text)
    if count == 0 or '<<<' in out:
        raise SystemExit(f"transform.py: {src}: {count} launches rewritten, "
                         f"{'some <<< left' if '<<<' in out else 'none found'}")
    if re.search(r'\basm\s*(volatile\s*)?\(', out):
        raise SystemExit(f"transform.py: {src} uses inline PTX, which the emulation cannot run")
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(dst, 'w', encoding='utf-8') as f:
        f.write(GUARD.format(src=src.replace('\\', '/')) + out)


if __name__ == '__main__':
    main()
