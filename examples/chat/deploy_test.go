package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/wshub/wshub/health"
	"github.com/wshub/wshub/wshubfx"
)

// The manifests' shapes, as far as the test reads them.
type (
	manifest struct {
		Kind     string `yaml:"kind"`
		Metadata struct {
			Name   string            `yaml:"name"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec spec `yaml:"spec"`
	}
	spec struct {
		Replicas *int `yaml:"replicas"`
		// Deployment and PDB: {matchLabels: {...}}; Service: the labels.
		Selector map[string]any `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds *int `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               struct {
					RunAsNonRoot bool   `yaml:"runAsNonRoot"`
					RunAsUser    *int64 `yaml:"runAsUser"`
				} `yaml:"securityContext"`
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
		// Service
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
		SessionAffinity string `yaml:"sessionAffinity"`
		// PodDisruptionBudget
		MaxUnavailable any `yaml:"maxUnavailable"`
		MinAvailable   any `yaml:"minAvailable"`
	}
	container struct {
		Name  string   `yaml:"name"`
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		Lifecycle struct {
			PreStop struct {
				Sleep struct {
					Seconds int `yaml:"seconds"`
				} `yaml:"sleep"`
			} `yaml:"preStop"`
		} `yaml:"lifecycle"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
	}
	probe struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port any    `yaml:"port"`
		} `yaml:"httpGet"`
		TimeoutSeconds int `yaml:"timeoutSeconds"`
	}
)

// readManifests decodes every document of the YAML files by kind and name
// ("Deployment/chat").
func readManifests(t *testing.T, files ...string) map[string]manifest {
	t.Helper()
	out := make(map[string]manifest)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var m manifest
			err := dec.Decode(&m)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, f)
			out[m.Kind+"/"+m.Metadata.Name] = m
		}
	}
	return out
}

// selectorLabels returns the labels a selector matches: its matchLabels,
// or (a Service's) the selector itself.
func selectorLabels(sel map[string]any) map[string]string {
	if ml, ok := sel["matchLabels"].(map[string]any); ok {
		sel = ml
	}
	out := make(map[string]string, len(sel))
	for k, v := range sel {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// portOf returns the port number of a listen address such as ":9090".
func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err, addr)
	n, err := strconv.Atoi(p)
	require.NoError(t, err, addr)
	return n
}

// containerPort resolves a probe's port or a Service's targetPort, a
// number or the name of one of c's ports, to a number (0: none).
func containerPort(c container, port any) int {
	switch p := port.(type) {
	case int:
		return p
	case string:
		for _, cp := range c.Ports {
			if cp.Name == p {
				return cp.ContainerPort
			}
		}
	}
	return 0
}

// The Kubernetes manifests match the chat's flags and the library's
// defaults, read from the code at test time: probe paths and ports, probe
// and check timeouts that fit kubelet's, a grace period above the preStop
// sleep and the app's stop time, and selectors that find the pods.
func TestDeployManifests(t *testing.T) {
	ms := readManifests(t, "deploy/chat.yaml", "deploy/nats.yaml")
	dep, ok := ms["Deployment/chat"]
	require.True(t, ok, "no Deployment chat")
	pod := dep.Spec.Template
	require.Len(t, pod.Spec.Containers, 1)
	c := pod.Spec.Containers[0]

	// The container's arguments parse as the chat's flags, and its ports
	// are those the flags listen on.
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	var s settings
	defineFlags(fs, &s)
	require.NoError(t, fs.Parse(c.Args))
	require.NotEmpty(t, s.admin, "probes belong on the admin server, which answers during the drain")
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	httpPort, adminPort := portOf(t, s.addr), portOf(t, s.admin)
	assert.Equal(t, httpPort, ports["http"], "the http port is -addr's")
	assert.Equal(t, adminPort, ports["admin"], "the admin port is -admin's")

	// Probes: the wshubfx paths, on the admin port, with a timeout the
	// app's checks answer within.
	cfg := chatConfig(s)
	def := wshubfx.DefaultConfig().HTTP
	checkTimeout := cfg.HealthTimeout
	if checkTimeout <= 0 {
		checkTimeout = health.DefaultTimeout
	}
	assert.Less(t, checkTimeout, time.Second, "a check answers within kubelet's default probe timeout (1 s)")
	assert.False(t, cfg.HealthAdapterRequired, "chat.yaml says a NATS outage does not fail readiness")
	for path, pr := range map[string]*probe{def.LivePath: c.LivenessProbe, def.ReadyPath: c.ReadinessProbe} {
		require.NotNil(t, pr, "probe %s", path)
		assert.Equal(t, path, pr.HTTPGet.Path)
		assert.Equal(t, adminPort, containerPort(c, pr.HTTPGet.Port), "probe %s on the admin port", path)
		timeout := max(pr.TimeoutSeconds, 1) // kubelet's default when unset
		// Strictly above: a hanging check must time out, and readiness
		// answer, before kubelet gives up on the probe.
		assert.Greater(t, time.Duration(timeout)*time.Second, checkTimeout, "probe %s timeoutSeconds", path)
	}

	// Timeouts nest: drain < StopTimeout < the app's fx stop time, and the
	// grace period (which the preStop sleep counts against) covers the
	// preStop sleep plus the fx stop time.
	stopTimeout, drainTimeout := cfg.StopTimeout, cfg.DrainTimeout
	if stopTimeout <= 0 {
		stopTimeout = wshubfx.DefaultStopTimeout
	}
	if drainTimeout == 0 {
		drainTimeout = stopTimeout / 2
	}
	opts, err := appOptions(s, zap.NewNop())
	require.NoError(t, err)
	app := fx.New(opts, fx.NopLogger) // constructs only; listeners and NATS open in OnStart
	require.NoError(t, app.Err())
	fxStop := app.StopTimeout()
	assert.Less(t, drainTimeout, stopTimeout, "DrainTimeout < StopTimeout")
	assert.Less(t, stopTimeout, fxStop, "StopTimeout < fx's stop timeout: Shutdown needs time after the drain")
	require.NotNil(t, pod.Spec.TerminationGracePeriodSeconds)
	grace := time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	preStop := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	assert.Positive(t, preStop, "a preStop sleep lets the endpoints go first")
	assert.Greater(t, grace, preStop+fxStop, "terminationGracePeriodSeconds > preStop + fx's stop timeout")

	// Selectors: the Deployment's, the Service's and the PDB's find the pods.
	for _, name := range []string{"Deployment/chat", "Service/chat", "PodDisruptionBudget/chat"} {
		m, ok := ms[name]
		require.True(t, ok, "no %s", name)
		sel := selectorLabels(m.Spec.Selector)
		require.NotEmpty(t, sel, "%s selects nothing", name)
		for k, v := range sel {
			assert.Equal(t, v, pod.Metadata.Labels[k], "%s selects label %s=%s", name, k, v)
		}
	}

	// The Service sends traffic to -addr's port, without affinity.
	svc := ms["Service/chat"]
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, httpPort, containerPort(c, svc.Spec.Ports[0].TargetPort), "the Service targets the http port")
	assert.Contains(t, []string{"", "None"}, svc.Spec.SessionAffinity, "pages recover on any pod: no affinity")

	// The PDB lets one pod go at a time, and not none.
	pdb := ms["PodDisruptionBudget/chat"]
	require.NotNil(t, dep.Spec.Replicas)
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		assert.Equal(t, 1, pdb.Spec.MaxUnavailable, "PDB maxUnavailable")
	case pdb.Spec.MinAvailable != nil:
		assert.Equal(t, *dep.Spec.Replicas-1, pdb.Spec.MinAvailable, "PDB minAvailable")
	default:
		t.Error("the PDB sets neither maxUnavailable nor minAvailable")
	}

	// The NATS URL names the nats Service and its port, and NATS runs
	// JetStream, which keeps the rooms' history.
	natsSvc, ok := ms["Service/nats"]
	require.True(t, ok, "no Service nats")
	require.NotEmpty(t, natsSvc.Spec.Ports)
	assert.Equal(t, "nats://nats:"+strconv.Itoa(natsSvc.Spec.Ports[0].Port), s.natsURL)
	natsDep, ok := ms["Deployment/nats"]
	require.True(t, ok, "no Deployment nats")
	require.NotEmpty(t, natsDep.Spec.Template.Spec.Containers)
	assert.Contains(t, natsDep.Spec.Template.Spec.Containers[0].Args, "-js", "NATS with JetStream")

	// Security: non-root, and the image's numeric USER agrees.
	assert.True(t, pod.Spec.SecurityContext.RunAsNonRoot, "runAsNonRoot")
	if u := pod.Spec.SecurityContext.RunAsUser; assert.NotNil(t, u, "runAsUser") {
		assert.Equal(t, strconv.FormatInt(*u, 10), dockerfileUser(t, readDockerfile(t)), "runAsUser is the image's USER")
	}
	build := dockerBuildCommand(t, readDockerfile(t))
	assert.Equal(t, build.tag, c.Image, "the Deployment runs the image the build command tags")
}

func readDockerfile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	return string(b)
}

// dockerfileUser returns the uid of the Dockerfile's (last) USER line.
func dockerfileUser(t *testing.T, df string) string {
	t.Helper()
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
	require.NotEmpty(t, users, "no USER line")
	uid, _, _ := strings.Cut(users[len(users)-1][1], ":")
	return uid
}

// dockerBuild is the build command the Dockerfile's comment gives.
type dockerBuild struct{ file, tag, context string }

func dockerBuildCommand(t *testing.T, df string) dockerBuild {
	t.Helper()
	m := regexp.MustCompile(`docker build -f (\S+) -t (\S+) (\S+)`).FindStringSubmatch(df)
	require.Len(t, m, 4, "the Dockerfile's comment gives its build command")
	return dockerBuild{file: m[1], tag: m[2], context: m[3]}
}

// goVersion returns the major and minor version of a go.mod's go line or
// an image tag such as "1.26".
func goVersion(t *testing.T, v string) (major, minor int) {
	t.Helper()
	m := regexp.MustCompile(`^(\d+)\.(\d+)`).FindStringSubmatch(v)
	require.Len(t, m, 3, v)
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	return major, minor
}

// The Dockerfile builds this package from the repository root, with a Go
// that both modules accept, runs it as a numeric non-root user and exposes
// the Deployment's ports.
func TestDeployDockerfile(t *testing.T) {
	df := readDockerfile(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	here, err := filepath.Abs(".")
	require.NoError(t, err)

	// The build command's context is the repository root, and -f names
	// this file from there.
	build := dockerBuildCommand(t, df)
	assert.Equal(t, ".", build.context, "the build context is the repository root (the examples use ../ through a replace)")
	f, err := filepath.Abs(filepath.Join(root, build.file))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(here, "Dockerfile"), f, "docker build -f")

	// Every COPY source (but those from a stage) exists in the context.
	copies := regexp.MustCompile(`(?m)^COPY\s+(.+)$`).FindAllStringSubmatch(df, -1)
	require.NotEmpty(t, copies)
	for _, cp := range copies {
		fields := strings.Fields(cp[1])
		if strings.HasPrefix(fields[0], "--from=") {
			continue
		}
		for _, src := range fields[:len(fields)-1] {
			_, err := os.Stat(filepath.Join(root, src))
			require.NoError(t, err, "COPY source %s", src)
		}
	}

	// The go build: cd into a module directory, then build this package.
	// WORKDIR /src holds the context, so "cd examples" is root/examples.
	run := regexp.MustCompile(`(?m)^RUN cd (\S+) && (?:\S+=\S+ )*go build (.*?)-o (\S+) (\S+)\s*$`).FindStringSubmatch(df)
	require.Len(t, run, 5, "RUN cd <module> && go build ... -o <out> <package>")
	dir, out, pkg := run[1], run[3], run[4]
	assert.FileExists(t, filepath.Join(root, dir, "go.mod"), "go build runs in a module")
	assert.Equal(t, here, filepath.Join(root, dir, pkg), "go build builds this package")
	assert.Contains(t, df, "COPY --from=build "+out+" /chat\n", "the runtime stage copies the built binary")
	assert.Contains(t, df, `ENTRYPOINT ["/chat"]`)

	// The builder's Go is at least both modules' go line.
	from := regexp.MustCompile(`(?m)^FROM golang:(\S+)`).FindStringSubmatch(df)
	require.Len(t, from, 2, "a golang builder stage")
	imgMajor, imgMinor := goVersion(t, from[1])
	for _, mod := range []string{filepath.Join(root, "go.mod"), filepath.Join(root, "examples", "go.mod")} {
		b, err := os.ReadFile(mod)
		require.NoError(t, err)
		line := regexp.MustCompile(`(?m)^go (\S+)`).FindStringSubmatch(string(b))
		require.Len(t, line, 2, mod)
		major, minor := goVersion(t, line[1])
		assert.True(t, imgMajor > major || imgMajor == major && imgMinor >= minor,
			"golang:%s builds %s (go %s) without fetching a toolchain", from[1], mod, line[1])
	}

	// Non-root, as a number kubelet can verify against runAsNonRoot.
	uid, err := strconv.Atoi(dockerfileUser(t, df))
	require.NoError(t, err, "USER is numeric")
	assert.Positive(t, uid, "USER is not root")

	// EXPOSE lists the Deployment's container ports.
	ms := readManifests(t, "deploy/chat.yaml")
	dep, ok := ms["Deployment/chat"]
	require.True(t, ok, "no Deployment chat")
	require.NotEmpty(t, dep.Spec.Template.Spec.Containers)
	var want []string
	for _, p := range dep.Spec.Template.Spec.Containers[0].Ports {
		want = append(want, strconv.Itoa(p.ContainerPort))
	}
	expose := regexp.MustCompile(`(?m)^EXPOSE (.+)$`).FindStringSubmatch(df)
	require.Len(t, expose, 2, "one EXPOSE line")
	assert.ElementsMatch(t, want, strings.Fields(expose[1]))
}
