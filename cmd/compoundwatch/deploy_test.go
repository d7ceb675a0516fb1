package main

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// acceptsArgs parses a command line with the real CLI: the subcommand must
// exist and every flag must be known and well-formed.
func acceptsArgs(t *testing.T, where string, args []string) {
	t.Helper()
	root := newRootCommand()
	cmd, rest, err := root.Find(args)
	if err != nil || cmd == root {
		t.Errorf("%s: %v: no such subcommand (%v)", where, args, err)
		return
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("%s: %v: %v", where, args, err)
	}
	if cmd.Name() == "run" {
		if out, _ := cmd.Flags().GetString("out"); !strings.HasPrefix(out, "s3://") {
			t.Errorf("%s: run --out %q, want an S3 location", where, out)
		}
	}
}

func shardsOf(args []string) string {
	if i := slices.Index(args, "--shards"); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func TestDeployExamplesAreValid(t *testing.T) {
	// crontab and systemd: the command after the binary's path.
	cmdline := regexp.MustCompile(`/usr/local/bin/compoundwatch ([^>\n]*)`)
	for _, f := range []string{"../../deploy/crontab", "../../deploy/systemd/compoundwatch.service"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := cmdline.FindSubmatch(data)
		if m == nil {
			t.Fatalf("%s runs no compoundwatch command", f)
		}
		acceptsArgs(t, f, strings.Fields(string(m[1])))
	}
	sc := bufio.NewScanner(strings.NewReader(mustRead(t, "../../deploy/crontab")))
	for sc.Scan() {
		if l := sc.Text(); strings.Contains(l, "compoundwatch run") && !strings.HasPrefix(l, "5 6 * * 1 ") {
			t.Errorf("crontab line %q is not Mondays 06:05", l)
		}
	}
	if !strings.Contains(mustRead(t, "../../deploy/systemd/compoundwatch.timer"), "OnCalendar=Mon *-*-* 06:05:00 UTC") {
		t.Error("the systemd timer does not fire on Mondays in UTC")
	}

	// Kubernetes: a CronJob whose job is Indexed with as many completions as shards.
	var cj struct {
		Kind string
		Spec struct {
			Schedule    string
			JobTemplate struct {
				Spec struct {
					CompletionMode string `yaml:"completionMode"`
					Completions    int
					Parallelism    int
					Template       struct {
						Spec struct {
							Containers []struct{ Args []string }
						}
					}
				}
			} `yaml:"jobTemplate"`
		}
	}
	if err := yaml.Unmarshal([]byte(mustRead(t, "../../deploy/kubernetes/cronjob.yaml")), &cj); err != nil {
		t.Fatal(err)
	}
	job := cj.Spec.JobTemplate.Spec
	if cj.Kind != "CronJob" || job.CompletionMode != "Indexed" || len(job.Template.Spec.Containers) != 1 {
		t.Fatalf("kubernetes: %+v", cj)
	}
	args := job.Template.Spec.Containers[0].Args
	acceptsArgs(t, "kubernetes", args)
	if shardsOf(args) != "3" || job.Completions != 3 {
		t.Errorf("kubernetes: --shards %s with %d completions", shardsOf(args), job.Completions)
	}

	// AWS Batch: the command, and an array size equal to the shards.
	var jd struct {
		Type                string
		ContainerProperties struct{ Command []string } `json:"containerProperties"`
	}
	if err := json.Unmarshal([]byte(mustRead(t, "../../deploy/aws-batch/job-definition.json")), &jd); err != nil {
		t.Fatal(err)
	}
	acceptsArgs(t, "aws-batch", jd.ContainerProperties.Command)
	submit := mustRead(t, "../../deploy/aws-batch/submit.sh")
	if shardsOf(jd.ContainerProperties.Command) != "3" || !strings.Contains(submit, "--array-properties size=3") {
		t.Errorf("aws-batch: --shards %s, submit.sh:\n%s", shardsOf(jd.ContainerProperties.Command), submit)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
