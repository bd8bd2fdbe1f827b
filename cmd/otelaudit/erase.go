package main

import (
	"context"
)

func runErase(ctx context.Context, args []string, e env) error {
	return usagef("erase is not available yet")
}
