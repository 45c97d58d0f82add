package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const modulePath = "github.com/semgate/semgate"

// repoRoot finds the semgate module's root by walking up from the working
// directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository root: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module "+modulePath+"\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the repository root: run from inside the semgate source tree (no go.mod for " + modulePath + " above the working directory)")
		}
		dir = parent
	}
}

// buildSemgate builds ./cmd/semgate from root into dir and returns the
// binary's path.
func buildSemgate(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "semgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/semgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/semgate: %w\n%s", err, out)
	}
	return bin, nil
}
