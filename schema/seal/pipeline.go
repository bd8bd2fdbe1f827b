package seal

import (
	"runtime"
	"sync"
)

// pipelineBatch is how many rows travel together between the goroutines of
// a pipeline.
const pipelineBatch = 256

// pipeline hashes rows on several goroutines while they are being read:
// produce reads rows and hands each to its emit function; compute, run by
// min(GOMAXPROCS, 4) workers at once, turns a row into a result (buf is the
// worker's scratch buffer); apply receives every result on one goroutine,
// in no particular order. pipeline returns produce's error once every row
// handed over was applied, and starts no goroutine that outlives it.
func pipeline[T any](produce func(emit func(*Row) error) error, compute func(r *Row, buf *[]byte) T, apply func(T)) error {
	workers := min(runtime.GOMAXPROCS(0), 4)
	batches := make(chan []*Row, 2*workers)
	results := make(chan []T, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 1024)
			for b := range batches {
				out := make([]T, len(b))
				for i, r := range b {
					out[i] = compute(r, &buf)
				}
				results <- out
			}
		}()
	}
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for rs := range results {
			for _, x := range rs {
				apply(x)
			}
		}
	}()
	batch := make([]*Row, 0, pipelineBatch)
	err := produce(func(r *Row) error {
		batch = append(batch, r)
		if len(batch) == pipelineBatch {
			batches <- batch
			batch = make([]*Row, 0, pipelineBatch)
		}
		return nil
	})
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	wg.Wait()
	close(results)
	<-applied
	return err
}
