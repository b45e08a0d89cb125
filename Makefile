# PolicyLab: the two commands a newcomer needs are `make lab` and `make test`.
# Every target runs with the Go toolchain pinned by go.mod's toolchain line,
# which the go command downloads through the module proxy on first use.
SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
export GOTOOLCHAIN := $(shell awk '$$1=="toolchain"{print $$2}' $(ROOT)/go.mod)
export PATH := $(shell GOTOOLCHAIN=$(GOTOOLCHAIN) go env GOPATH 2>/dev/null)/bin:$(PATH)
# GoMLX's pure-Go backend has SIMD (AVX-512/AVX2) kernels behind Go's simd
# experiment: 6.6x faster on the chapter's BC training step. They are the
# default on x86-64. go1.27.4's partial SIMD loads, which compute v0.1.14
# uses for every row's tail, read a whole vector past the end of the slice
# (make simd-canary shows it), which crashed with SIGSEGV where a buffer
# ended at the top of the Go heap; lessons/backend maps the heap far ahead
# of use before the first kernel runs (heapguard.go), so no buffer ends
# there. GOEXPERIMENT= make ... gives the portable build; `make bench`
# measures both. See README, Benchmarks.
ifeq ($(shell uname -m),x86_64)
export GOEXPERIMENT ?= simd
else
export GOEXPERIMENT ?=
endif
PY := /usr/bin/python3

# Notebooks run by `make test` and `make course`.
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb) $(shell find exercises solutions -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' 2>/dev/null))
PORT ?= 8888
LAB_IP ?= 127.0.0.1
GOTEST_TIMEOUT ?= 25m

.PHONY: help setup setup-test lab test vet gotest notebooks course bench simd-canary dp-pusht dp-pusht-train dp-pusht-long dp-arm vla chunking deploy-demo grade student-release clean clean-notebooks check-notebooks

help:
	@echo "make lab      set up (if needed) and open the course in Jupyter"
	@echo "make test     vet, Go tests, every notebook headless, chart rendering in Chromium"
	@echo "make setup    install Jupyter, GoNB, gopls, goimports, echarts (idempotent)"
	@echo "make course   run every notebook into out/course (ipynb + HTML) and print a table"
	@echo "make bench    Go benchmarks (simulators, demo generation) into out/bench.json"
	@echo "make simd-canary  do partial SIMD loads read past their slice here, and does the heap guard keep GoMLX's buffers clear of it?"
	@echo "make dp-pusht train and score Diffusion Policy on Push-T, 3 seeds as the paper (about 1 h 35 min; DP_SEEDS=1: 35 min)"
	@echo "make dp-pusht-long  the longer config: 800 demonstrations, 40,000 steps (about 1 h a seed; DP_SEEDS as above)"
	@echo "make dp-arm   train and score Diffusion Policy on the arm's REACH task, for 4.2.6 (about 5 minutes)"
	@echo "make vla     pretrain the VLA (4.2.4), its blind baseline, and the LoRA study (about 15 minutes)"
	@echo "make chunking the action-chunking executors compared (4.2.6): chunked BC, then make dp-pusht's and make dp-arm's policies"
	@echo "make deploy-demo  BC policy node vs the simulated robot over ROS 2 / DDS (ROS_DOMAIN_ID)"
	@echo "make grade SUBMISSIONS=dir   grade a class (one folder per student) into out/grade"
	@echo "make student-release [RELEASE=dir]  a student copy without solutions/ or hidden tests"
	@echo "make clean-notebooks  strip outputs from notebooks before committing"

setup:
	@bash kernel/setup.sh

# What the test suite needs on top: Chromium for the chart test.
setup-test:
	@bash kernel/setup.sh --test

lab: setup
	@echo "Starting Jupyter on $(ROOT)/notebooks at $(LAB_IP):$(PORT). Open the URL printed below."
	@cd $(ROOT) && jupyter notebook --no-browser --ip=$(LAB_IP) --port=$(PORT) \
		--NotebookApp.default_url=/tree/notebooks $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

vet:
	go vet ./...

# -count=1: every run tests (no results from Go's test cache).
# The exercises' visible tests fail on their TODO stubs by design: they are
# run by kernel/grade's TestClass, on the stubs (every test must fail) and
# on the solutions (every test must pass), not here.
gotest:
	POLICYLAB_REQUIRE_BROWSER=1 POLICYLAB_REQUIRE_JUPYTER=1 go test -count=1 -timeout $(GOTEST_TIMEOUT) $$(go list ./... | grep -v '/exercises/')

check-notebooks:
	@$(PY) kernel/runnb.py --check-clean-only $(NOTEBOOKS)

# Every notebook through the real GoNB kernel; HTML exported and its charts
# checked in headless Chromium with the network off. Two notebooks run side
# by side (each kernel is its own process; the pure-Go backend keeps about
# one core busy on these small graphs), the longest first once a run has
# left its times in out/test. make course runs them one at a time, for
# honest per-notebook times.
NOTEBOOK_JOBS ?= 2
notebooks:
	@$(PY) kernel/runnb.py --jobs $(NOTEBOOK_JOBS) --check-clean --out out/test --html --chartcheck $(NOTEBOOKS)

test: setup-test vet gotest notebooks

course: setup
	@$(PY) kernel/runnb.py --jobs 1 --out out/course --html --json out/course/course.json $(NOTEBOOKS)

# Benchmarks (not tests): simulator steps/s and demo generation on one
# core; training steps/s on PEER_THREADS cores beside the chapter's PyTorch
# peer (../shared/peer) measured in the same run. Median and spread over
# BENCH_COUNT runs, in out/bench.json.
BENCH_COUNT ?= 5
# The ROS 2 deployment loop runs once, for this many seconds.
DEPLOY_SECONDS ?= 60
PEER_THREADS ?= 2
PEER ?= ../shared/peer/chapter_pytorch_peer.py
bench:
	@bash kernel/setup.sh --bench
	@mkdir -p out
	@if [ -f $(PEER) ]; then echo "peer: $(PY) $(PEER) $(PEER_THREADS)"; \
		$(PY) $(PEER) $(PEER_THREADS) > out/peer.json || echo '{}' > out/peer.json; \
	else echo "peer: $(PEER) not found" > out/peer.json; fi
	@set -o pipefail; { \
		go test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) -cpu 1 ./lessons/arm/ ./lessons/pusht/ ./lessons/data/ && \
		GOEXPERIMENT= go test -run '^$$' -bench 'TrainStepChapter|TrainStepVision|TrainStepUNet/CPU' -benchmem -count $(BENCH_COUNT) -cpu $(PEER_THREADS) ./lessons/bc/ ./lessons/dp/ && \
		GOEXPERIMENT= go test -run '^$$' -bench 'SampleMLP|SampleUNet/CPU' -benchtime 3x -count $(BENCH_COUNT) -cpu $(PEER_THREADS) ./lessons/dp/ && \
		GOEXPERIMENT=simd go test -run '^$$' -bench 'TrainStepChapter|TrainStepVision|TrainStepUNet/CPU' -benchmem -count $(BENCH_COUNT) -cpu $(PEER_THREADS) ./lessons/bc/ ./lessons/dp/ \
			| sed -e 's/^BenchmarkTrainStep\(Chapter\|Vision\|UNet\)/BenchmarkTrainStep\1SIMD/' && \
		GOEXPERIMENT=simd go test -run '^$$' -bench 'MatMul' -benchtime 200x -count $(BENCH_COUNT) -cpu $(PEER_THREADS) ./lessons/dense/ \
			| sed -e 's/^BenchmarkMatMul/BenchmarkSIMDMatMul/' && \
		GOEXPERIMENT=simd go test -run '^$$' -bench 'SampleMLP' -benchtime 20x -count $(BENCH_COUNT) -cpu $(PEER_THREADS) ./lessons/dp/ \
			| sed -e 's/^BenchmarkSample/BenchmarkSIMDSample/' && \
		GOEXPERIMENT= go test -run '^$$' -bench 'SampleMLP|SampleUNet/CPU' -benchtime 3x -count $(BENCH_COUNT) -cpu 1 ./lessons/dp/ \
			| sed -e 's/^BenchmarkSample/BenchmarkOneCoreSample/' && \
		GOEXPERIMENT=simd go test -run '^$$' -bench 'SampleMLP|SampleUNet/CPU' -benchtime 3x -count $(BENCH_COUNT) -cpu 1 ./lessons/dp/ \
			| sed -e 's/^BenchmarkSample/BenchmarkOneCoreSIMDSample/' && \
		POLICYLAB_DEPLOY_SECONDS=$(DEPLOY_SECONDS) go test -run '^$$' -bench 'DeployLoop' -benchtime 1x -count 1 -timeout 10m ./lessons/deploy/ ; \
	} | go run ./kernel/cmd/benchjson -o out/bench.json -peer out/peer.json -course out/course/course.json

# Whether this toolchain's partial SIMD loads and stores stay inside their
# slices on this CPU; exits 1 where they read past (the SIMD build's crash).
simd-canary:
	GOEXPERIMENT=simd go run ./kernel/cmd/simdcanary

# Diffusion Policy on Push-T (state), as README reports it: dp.CPUConfig()
# (U-Net 32/64/128: per minute of CPU it learned faster than 64/128/256;
# DP_DOWN overrides the widths, e.g. 64,128,256) on DP_DEMOS expert
# demonstrations (400, twice the paper's count: 0.870 against 0.846 over
# the same 3 seeds; our scripted expert is cheap), about 26 minutes of
# training per seed on 2 cores (SIMD build) with five evaluations sampling
# as the config does (DDIM-10) on the paper's 50 seeded episodes, once per
# seed of DP_SEEDS; then the
# three checkpoints each run kept, scored as the paper samples (DDPM-100)
# and averaged over the seeds as its Table 1 is (3 seeds: about 1 h 35 min;
# DP_SEEDS=1 for one run); then BC on the same demonstrations, seeds and
# episodes (out/bc-pusht*.json, under a minute a seed). Seed 1's
# checkpoints are out/checkpoints/dp-pusht-cpu (make chunking and the
# notebooks load them), seed N's dp-pusht-cpu-seedN.
#
# make dp-pusht-long is the longer config README reports beside it: the
# same network on 800 demonstrations for 40,000 steps, 51-54 minutes of
# training a seed alone (3 seeds: DDPM-100 max 0.952, mean of the last three
# 0.938), then the same DDPM-100 scoring; no BC. Its runs are named
# dp-pusht-long (out/checkpoints/dp-pusht-long[-seedN], out/dp-pusht-long*.json),
# so they never overwrite the checkpoints the notebooks load.
DP_STEPS ?= 20000
DP_DOWN ?=
DP_DEMOS ?= 400
DP_SEEDS ?= 1 2 3
DP_RUN ?= dp-pusht
DP_CKPT ?= $(DP_RUN)-cpu
# Seed 1's files carry no suffix (the notebooks load them), seed N's -seedN.
DP_SEED = $(if $(filter-out 1,$(1)),-seed$(1))
DP_DIR = out/checkpoints/$(DP_CKPT)$(call DP_SEED,$(1))
DP_JSON = out/$(DP_RUN)$(call DP_SEED,$(1)).json
BC_JSON = out/bc-pusht$(call DP_SEED,$(1)).json
comma := ,
empty :=
space := $(empty) $(empty)
# One recipe line per seed (dptrain evaluates every DP_STEPS/5 steps).
define DP_TRAIN
	GOEXPERIMENT=simd go run ./lessons/cmd/dptrain -seed $(1) -demos $(DP_DEMOS) $(if $(DP_DOWN),-down $(DP_DOWN)) -steps $(DP_STEPS) -ckpt $(call DP_DIR,$(1)) -json $(call DP_JSON,$(1))

endef
define BC_TRAIN
	go run ./lessons/cmd/dptrain -policy bc -seed $(1) -demos $(DP_DEMOS) -steps 3000 -eval-every 600 -json $(call BC_JSON,$(1))

endef
dp-pusht: dp-pusht-train
	$(foreach s,$(DP_SEEDS),$(call BC_TRAIN,$(s)))
dp-pusht-train:
	@mkdir -p out
	$(foreach s,$(DP_SEEDS),$(call DP_TRAIN,$(s)))
	GOEXPERIMENT=simd go run ./lessons/cmd/dptrain -method ddpm -json out/$(DP_RUN)-ddpm.json \
		-score $(subst $(space),$(comma),$(strip $(foreach s,$(DP_SEEDS),$(call DP_DIR,$(s)))))
dp-pusht-long:
	$(MAKE) dp-pusht-train DP_RUN=dp-pusht-long DP_CKPT=dp-pusht-long DP_DEMOS=800 DP_STEPS=40000

# Diffusion Policy on arm REACH, the policy section 4.2.6 compares the
# chunk executors on: chunking.ArmDiffusionConfig() (U-Net 32/64, absolute
# joint targets), batch 16, 12,000 steps: 5 minutes of training on 2 cores
# (SIMD build), scored on 50 seeded episodes five times (100% success at
# the end, measured 2026-11-25). Checkpoints in out/checkpoints/dp-arm-reach,
# which notebook 4.2.6 and make chunking load.
DP_ARM_STEPS ?= 12000
dp-arm:
	@mkdir -p out
	GOEXPERIMENT=simd go run ./lessons/cmd/dptrain -env arm-reach -config arm -batch 16 -steps $(DP_ARM_STEPS) \
		-eval-every $$(( $(DP_ARM_STEPS) / 5 )) -ckpt out/checkpoints/dp-arm-reach -json out/dp-arm.json

# Section 4.2.4 from a terminal: the VLA pretrained on three
# language-conditioned arm tasks, the same model blind to the instruction,
# both scored per task, then the fine-tuning study on the held-out task
# (LoRA r = 4, 8, 16, head only, full). Checkpoints in
# out/checkpoints/vla-regression(-blind), which notebook 4.2.4 then loads;
# figures in out/vla.json. SIMD build, as make dp-pusht (4x faster here).
VLA_STEPS ?= 2000
VLA_FT_STEPS ?= 1000
vla:
	@mkdir -p out
	GOEXPERIMENT=simd go run ./lessons/cmd/vla -steps $(VLA_STEPS) -ft-steps $(VLA_FT_STEPS) -json out/vla.json

# Section 4.2.6 from a terminal: every chunk executor at 0 and 250 ms of
# simulated inference latency on the same seeds, for the lesson's chunked
# BC on Push-T and the arm (trained on first use, 20 s each), then for the
# diffusion policy make dp-pusht trained (about 15 minutes for 20 episodes:
# ensembling samples a chunk at every step) and the one make dp-arm
# trained (about a minute for 50 episodes).
CHUNK_EPISODES ?= 50
CHUNK_DP_EPISODES ?= 20
chunking:
	@mkdir -p out
	go run ./lessons/cmd/chunking -policy bc -env pusht -episodes $(CHUNK_EPISODES) -json out/chunking-bc-pusht.json
	go run ./lessons/cmd/chunking -policy bc -env arm-reach -episodes $(CHUNK_EPISODES) -json out/chunking-bc-arm.json
	GOEXPERIMENT=simd go run ./lessons/cmd/chunking -policy dp -episodes $(CHUNK_DP_EPISODES) -json out/chunking-dp-pusht.json
	go run ./lessons/cmd/chunking -policy dp -env arm-reach -ckpt out/checkpoints/dp-arm-reach -episodes $(CHUNK_EPISODES) -json out/chunking-dp-arm.json

# Section 4.2.5 from a terminal: the simulated arm as a ROS 2 robot (a
# separate process) and the BC policy node, over DDS on ROS_DOMAIN_ID
# (default 0). Trains the BC policy first if out/checkpoints/bc-arm-deploy
# holds none (about 15 s).
DEPLOY_EPISODES ?= 10
deploy-demo:
	@mkdir -p out/bin
	go build -o out/bin/policylab-deploy ./lessons/cmd/deploy
	out/bin/policylab-deploy demo -ckpt out/checkpoints/bc-arm-deploy -train -episodes $(DEPLOY_EPISODES) -json out/deploy-demo.json

# Grading (README, "Exercises and grading"): every submission built in its
# own copy of the repository with the hidden tests, each test its own
# process under a time and memory limit, in a Linux namespace that hides
# this repository (GRADE_ISOLATION=auto|require|off). Writes
# $(GRADE_OUT)/gradebook.csv, grades.json and feedback/<student>.md.
SUBMISSIONS ?=
GRADE_OUT ?= out/grade
GRADE_ISOLATION ?= auto
grade:
	@if [ -z "$(SUBMISSIONS)" ]; then echo "usage: make grade SUBMISSIONS=<dir with one folder per student>"; exit 2; fi
	go run ./kernel/cmd/grade -submissions "$(SUBMISSIONS)" -out "$(GRADE_OUT)" -isolation $(GRADE_ISOLATION)

RELEASE ?= out/student-release
student-release:
	@rm -rf "$(RELEASE)"
	go run ./kernel/cmd/grade -release "$(RELEASE)"

clean-notebooks:
	@$(PY) kernel/runnb.py --strip $(NOTEBOOKS)

clean:
	rm -rf out
