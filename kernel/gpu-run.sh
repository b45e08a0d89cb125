#!/bin/bash
# GPU figures for README's Benchmarks: build here, run on a CUDA machine
# whose python3 has jax-cuda13-pjrt (the plugin) and torch (the peer).
#
#   bash kernel/gpu-run.sh build      # here: binaries and the peer into .gpu/
#   bash .gpu/gpu-run.sh run [what]   # there: what = bench | census | vision | all (default)
#
# Prints the GPU, our BC and diffusion training steps/s on xla:cuda, the
# latency of one diffusion action chunk (DDIM-10 as one compiled graph and
# stepping on the host, DDPM-100; the chapter's MLP and the U-Nets), the
# chapter's PyTorch peer on the same GPU (kernel/peer_device.py); XLA's
# kernels per U-Net forward in the fused DDIM-10 beside its latency, for
# each form of the forward (census: kernel/cmd/hlocensus); and
# trains the vision BC policy with bc.GPUVisionConfig and
# bc.ChapterVisionConfig (JSON results in
# $OUT or .gpu/out).
set -u
here=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
build)
	root=$(cd "$here/.." && pwd)
	mkdir -p "$root/.gpu"
	cd "$root" || exit 1
	export GOTOOLCHAIN=$(awk '$1=="toolchain"{print $2}' go.mod)
	go build -ldflags="-s -w" -o .gpu/bctrain ./lessons/cmd/bctrain &&
		go test -c -ldflags="-s -w" -o .gpu/bc.test ./lessons/bc &&
		go test -c -ldflags="-s -w" -o .gpu/dp.test ./lessons/dp &&
		go build -ldflags="-s -w" -o .gpu/hlocensus ./kernel/cmd/hlocensus &&
		cp ../shared/peer/chapter_pytorch_peer.py .gpu/peer.py &&
		cp kernel/peer_device.py kernel/gpu-run.sh .gpu/ || exit 1
	echo "built into $root/.gpu; carry it to the GPU machine and run: bash .gpu/gpu-run.sh run"
	;;
run)
	cd "$here" || exit 1
	out=${OUT:-$here/out}
	mkdir -p "$out"
	what=${2:-all}
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
	site=$(python3 -c 'import site; print(site.getsitepackages()[0])')
	plugin=$(find "$site/jax_plugins" -name xla_cuda_plugin.so | head -1)
	[ -n "$plugin" ] || { echo "gpu-run: no xla_cuda_plugin.so under $site/jax_plugins (pip install jax[cuda13])"; exit 1; }
	export GOMLX_BACKEND=xla:$plugin GOPJRT_CUDA_CHECKS=0
	echo "backend: $GOMLX_BACKEND"
	if [ "$what" = all ] || [ "$what" = bench ]; then
		# Each benchmark compiles once per process (dp's benchCache); on
		# XLA a U-Net's graphs take tens of seconds to compile, reported as
		# s/compile.
		# Training at batch 64: BC, the chapter's diffusion MLP, the U-Nets.
		timeout 100 ./bc.test -test.run '^$' -test.bench TrainStep -test.count 3 -test.benchtime 3s | tee "$out/bench-gpu.txt"
		timeout 240 ./dp.test -test.run '^$' -test.bench TrainStep -test.count 3 -test.benchtime 3s | tee -a "$out/bench-gpu.txt"
		# One chunk at batch 1: DDPM-100 steps on the host; DDIM-10 as one
		# compiled graph (SampleAuto's choice on XLA) and stepping on the host.
		for net in 'SampleMLP' 'SampleUNet/(CPU|DP)$'; do
			timeout 300 ./dp.test -test.run '^$' -test.bench "$net/(DDPM100|DDIM10Fused|DDIM10Host)$" \
				-test.count 3 -test.benchtime 20x | tee -a "$out/bench-gpu.txt"
		done
		# The fused run samples what stepping on the host samples, here too.
		timeout 120 ./dp.test -test.run 'TestFusedMatchesHost' -test.v 2>&1 | tail -7 | tee -a "$out/bench-gpu.txt"
		timeout 60 python3 peer_device.py --peer peer.py --device cuda | tee "$out/peer-gpu.json"
	fi
	if [ "$what" = all ] || [ "$what" = census ]; then
		# Kernels per U-Net forward and the chunk's latency, side by side in
		# one run for the forms of the U-Net's forward (the first of each
		# U-Net is the default; two-pass per-step is the form before
		# 2026-11-26): the census of the fused DDIM-10's optimized HLO (the
		# largest module its process dumps) over its 10 forwards.
		for v in 'CPU sibling once' 'CPU stacked once' 'CPU sibling per-step' 'CPU two-pass per-step' \
			'DP sibling once' 'DP two-pass per-step'; do
			set -- $v
			dump=$(mktemp -d)
			echo "U-Net $1, GroupNorm moments $2, conditioning $3:" | tee -a "$out/census-gpu.txt"
			POLICYLAB_BENCH_GN=$2 POLICYLAB_BENCH_FILM=$3 XLA_FLAGS="${XLA_FLAGS:-} --xla_dump_to=$dump" \
				timeout 150 ./dp.test -test.run '^$' -test.bench "SampleUNet/$1\$/DDIM10Fused\$" \
				-test.count 3 -test.benchtime 20x | grep '^Benchmark' | tee -a "$out/census-gpu.txt"
			f=$(ls -S "$dump"/*after_optimizations.txt 2>/dev/null | head -1)
			if [ -n "$f" ]; then
				./hlocensus -steps 10 "$f" | tee -a "$out/census-gpu.txt"
			else
				echo "no optimized HLO dumped in $dump" | tee -a "$out/census-gpu.txt"
			fi
			rm -rf "$dump"
		done
	fi
	if [ "$what" = all ] || [ "$what" = vision ]; then
		for v in gpu chapter; do
			timeout 280 ./bctrain -vision $v -steps 3000 -batch 64 -episodes 100 -eval-every 1000 \
				-json "$out/vision-$v.json" 2>&1 | tr '\r' '\n' | grep -v '^bc-vision \['
		done
	fi
	;;
*)
	echo "usage: $0 build | run [bench|census|vision|all]" >&2
	exit 2
	;;
esac
