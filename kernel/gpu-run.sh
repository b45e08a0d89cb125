#!/bin/bash
# GPU figures for README's Benchmarks: build here, run on a CUDA machine
# whose python3 has jax-cuda13-pjrt (the plugin) and torch (the peer).
#
#   bash kernel/gpu-run.sh build      # here: binaries and the peer into .gpu/
#   bash .gpu/gpu-run.sh run [what]   # there: what = bench | vision | all (default)
#
# Prints the GPU, our BC and diffusion training steps/s on xla:cuda, the
# latency of one diffusion action chunk (DDIM-10 as one compiled graph and
# stepping on the host, DDPM-100; the chapter's MLP and the U-Nets), the
# chapter's PyTorch peer on the same GPU (kernel/peer_device.py), the
# kernels per U-Net forward in the fused DDIM-10 (kernel/cmd/hlocensus), and
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
		# Kernels per U-Net forward: the census of the fused DDIM-10's
		# optimized HLO (the largest module of its process), 10 forwards.
		for u in CPU DP; do
			dump=$(mktemp -d)
			XLA_FLAGS="${XLA_FLAGS:-} --xla_dump_to=$dump" timeout 200 ./dp.test -test.run '^$' \
				-test.bench "SampleUNet/$u\$/DDIM10Fused\$" -test.benchtime 1x >/dev/null
			f=$(ls -S "$dump"/*after_optimizations.txt 2>/dev/null | head -1)
			[ -n "$f" ] && echo "census $u: $(./hlocensus -steps 10 "$f")" | tee -a "$out/bench-gpu.txt"
			rm -rf "$dump"
		done
		# The fused run samples what stepping on the host samples, here too.
		timeout 120 ./dp.test -test.run 'TestFusedMatchesHost' -test.v 2>&1 | tail -7 | tee -a "$out/bench-gpu.txt"
		timeout 60 python3 peer_device.py --peer peer.py --device cuda | tee "$out/peer-gpu.json"
	fi
	if [ "$what" = all ] || [ "$what" = vision ]; then
		for v in gpu chapter; do
			timeout 280 ./bctrain -vision $v -steps 3000 -batch 64 -episodes 100 -eval-every 1000 \
				-json "$out/vision-$v.json" 2>&1 | tr '\r' '\n' | grep -v '^bc-vision \['
		done
	fi
	;;
*)
	echo "usage: $0 build | run [bench|vision|all]" >&2
	exit 2
	;;
esac
