#!/usr/bin/env python3
"""The chapter's PyTorch peer on another device (a GPU): same models, same
batches, same optimizer as ../shared/peer/chapter_pytorch_peer.py, which
times them on the CPU only.

We do not copy the peer's models: this script runs the peer file's own class
definitions (everything above its benchmark code) and times them on
--device, synchronizing the device after each step so that the rate counts
finished work. It prints one JSON line with the peer's keys plus "device".

    python3 kernel/peer_device.py --peer ../shared/peer/chapter_pytorch_peer.py --device cuda
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn


def load_peer_classes(path, threads):
    src = open(path).read()
    cut = src.find("\ndef rate(")
    if cut < 0:
        raise SystemExit(f"peer_device: {path}: no 'def rate(' to cut the class definitions at")
    ns = {"__name__": "chapter_peer"}
    argv, sys.argv = sys.argv, [path, str(threads)]  # the peer reads its thread count from argv
    try:
        exec(compile(src[:cut], path, "exec"), ns)
    finally:
        sys.argv = argv
    return ns


def rate(fn, sync, seconds):
    for _ in range(3):
        fn()
    sync()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    sync()
    return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2, help="CPU threads, as the peer's argument")
    a = ap.parse_args()
    ns = load_peer_classes(a.peer, a.threads)  # sets torch's threads and seed as the peer does
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    out = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else str(dev)}

    bc = ns["BCPolicy"](128, 7).to(dev)
    opt = torch.optim.Adam(bc.parameters(), lr=1e-4)
    obs, act = torch.randn(64, 128, device=dev), torch.randn(64, 7, device=dev)

    def bc_step():
        loss = nn.functional.mse_loss(bc(obs), act)
        opt.zero_grad()
        loss.backward()
        opt.step()

    out["bc_train_steps_per_s"] = rate(bc_step, sync, a.seconds)

    dp = ns["DiffusionPolicy"](20, 2).to(dev)
    dopt = torch.optim.Adam(dp.parameters(), lr=1e-4)
    dobs, dact = torch.randn(64, 20, device=dev), torch.randn(64, 16, 2, device=dev)

    def dp_step():
        ts = torch.randint(0, dp.num_steps, (64,), device=dev)
        noise = torch.randn_like(dact)
        al = dp.alphas_cumprod[ts][:, None, None]
        noisy = torch.sqrt(al) * dact + torch.sqrt(1 - al) * noise
        loss = nn.functional.mse_loss(dp(dobs, noisy, ts), noise)
        dopt.zero_grad()
        loss.backward()
        dopt.step()

    out["diffusion_train_steps_per_s"] = rate(dp_step, sync, a.seconds)
    print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in out.items()}))


if __name__ == "__main__":
    main()
