# blockdev + sim/blockjob: the simulated block layer and the block-job drivers.
# Their unit, oracle and transcript tests run in `go test -race ./...` (about
# 12 s on 2 cores); the 1 GiB benchmarks are opt-in here.
.PHONY: bench-blockdev
bench-blockdev:
	$(GO) test -run '^$$' -bench 'Bitmap1TiB' -benchtime 20x ./blockdev/
	$(GO) test -run '^$$' -bench '1GiB' -benchtime 3x -benchmem ./sim/blockjob/
	$(GO) test -run 'TestHeap1TiB' -v ./blockdev/ | grep -E 'heap|ok|FAIL'
