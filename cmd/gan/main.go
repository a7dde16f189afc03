// Command gan trains, samples and measures generative models of MNIST-style
// images (the seed GAN first) on the CPU or on an NVIDIA GPU. Every command
// is driven by the model's family (see gan models): its statistics name the
// columns of metrics.csv and the values of the epoch line.
//
//	gan train  [--model seed-mlp-gan] [--device cpu|cuda|auto] [--epochs N] [--batch N] [--lr F]
//	           [--seed 1] [--out DIR] [--steps N] [--resume CKPT] [--data DIR] [--dataset mnist|fashion]
//	           [--eval-every N] [--eval-n 10000] [--watch=true]
//	gan models
//	gan import STATE_DICT.safetensors -o CKPT [--model seed-mlp-gan] [--epochs N] [--batch N] [--lr F] [--seed S]
//	gan sample --checkpoint F [--model NAME] [--n 64] [--out DIR] [--grid FILE] [--seed S] [--device ...]
//	           [--interpolate [--seeds 1,2,3] [--frames 8]] [--label K (conditional models)]
//	gan eval   --checkpoint F [--model NAME] | --samples PATH [--n 10000] [--seed 1] [--json FILE]
//	gan report RUN_DIR [--n 10000] [--out FILE] [--no-eval]
//	gan serve  --checkpoint F [--model NAME] [--addr 127.0.0.1:8080] [--device cpu|cuda|auto]
//	gan classifier train|test [--dataset mnist|fashion] [--out FILE] [--weights FILE]
//	gan bench  [--device cpu,cuda] [--quick|--full] [--json FILE]
//
// --resume and --checkpoint take a checkpoint of gan train or gan import,
// or a bare PyTorch state_dict saved with safetensors, whose family --model
// names. gan train stops cleanly on Ctrl-C or SIGTERM: it saves a
// checkpoint of the step it reached and exits with status 130.
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

// exitError is an error with its own exit code (130 for a run stopped by a
// signal, as shells report a process killed by SIGINT).
type exitError struct {
	error
	code int
}

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
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
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
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// parseInterleaved parses args with positional arguments anywhere among
// the flags (the standard library stops at the first one) and returns the
// positional arguments in order.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// flagError turns an error of flag.FlagSet.Parse into a usage error,
// leaving flag.ErrHelp (-h) as it is.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err}
}

// setFlags lists the flags given explicitly on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}
