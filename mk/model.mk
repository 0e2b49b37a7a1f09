# model/ and model/harness: the reference model, the invariant catalogue, the rapid property
# tests and the mutation proof. All of them run inside `go test -race ./...`:
# ./model/harness takes about 90 s on 2 cores under -race (2000 random sequences of
# 50-60 actions against sim, 100 block-mode sequences with real block jobs, the
# same at QEMU 10.0 with fewer sequences, the mutation proof's build and its
# eight bug runs at each version), so nothing is added to CI_TARGETS.
# spec/invariants.md is generated from model.Catalogue (go generate ./model).
.PHONY: soak bench-model

# soak: at least 1,000,000 random steps against sim (every fifth sequence in
# block mode), with a progress line every 500 sequences; about 70 s.
# SOAK_QEMU=10.0 soaks sim and the model at 10.0.
SOAK_STEPS ?= 1000000
SOAK_QEMU ?= 7.2
soak:
	$(GO) run ./model/internal/soak -steps $(SOAK_STEPS) -qemu $(SOAK_QEMU)

# bench-model: sequences/s of the model alone, of the full harness (sim +
# model + invariants) and of block mode.
bench-model:
	$(GO) test -run '^$$' -bench RandomSequence -benchtime 3s ./model/harness/

# model-random: the property tests with a new seed each run (CI runs the
# fixed seed 1); the seed is printed first, replay with -rapid.seed=N.
# blockdev's and sim/blockjob's seeded tests take JOBFSM_SEED=random and
# BLOCKJOB_SEED=random.
.PHONY: model-random
model-random:
	$(GO) test -count=1 ./model -run TestRandomSequences -rapid.seed=$$(date +%s%N)
	JOBFSM_SEED=random $(GO) test -count=1 ./blockdev
	BLOCKJOB_SEED=random $(GO) test -count=1 ./sim/blockjob
