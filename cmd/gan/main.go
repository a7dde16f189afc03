// Command gan trains, samples and measures the seed MNIST GAN on the CPU or
// on an NVIDIA GPU.
//
//	gan train  [--device cpu|cuda|auto] [--epochs 50] [--batch 64] [--lr 2e-4] [--seed 1]
//	           [--out DIR] [--steps N] [--resume CKPT] [--data DIR] [--dataset mnist|fashion]
//	           [--eval-every N] [--eval-n 10000] [--watch=true]
//	gan sample --checkpoint F [--n 64] [--out DIR] [--grid FILE] [--seed S] [--device ...]
//	           [--interpolate [--seeds 1,2,3] [--frames 8]]
//	gan eval   --checkpoint F | --samples PATH [--n 10000] [--seed 1] [--json FILE]
//	gan report RUN_DIR [--n 10000] [--out FILE] [--no-eval]
//	gan classifier train|test [--dataset mnist|fashion] [--out FILE] [--weights FILE]
//
// Run "gan help" or "gan COMMAND -h" for details.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// usageError marks a mistake on the command line (exit code 2).
type usageError struct{ error }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) error
}

// registry holds the subcommands; each command's file registers itself in
// an init function, so adding a command touches no other file.
var registry []command

// register adds a subcommand; usage lists them in registration order
// (file name order, then as registered).
func register(c command) { registry = append(registry, c) }

func commands() []command { return registry }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: gan COMMAND [flags]\n\ncommands:")
	width := 8
	for _, c := range commands() {
		width = max(width, len(c.name))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'gan COMMAND -h' for the flags of a command.")
}

// run executes the command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		}
		fmt.Fprintf(stderr, "gan %s: %v\n", name, err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	usage(stderr)
	fmt.Fprintf(stderr, "gan: unknown command %q\n", name)
	return 2
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gan "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, turning flag errors into usage errors and rejecting
// stray positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// setFlags lists the flags given explicitly on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}
