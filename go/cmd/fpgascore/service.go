package main

// The service and model commands (the deployment client), as the Python command's
// (python/src/fpgascore/_deploy_cli.py):
//
//	fpgascore model register --name resnet50
//	fpgascore service create --name x --ssl --cert cert.pem --key key.pem   # address and keys, once
//	fpgascore service get|keys|delete x;  service list;  service regenerate-keys x --type secondary
//	fpgascore service update x [--ssl|--no-ssl] [--cert PEM --key PEM] [--model M] [--replicas N]
//	fpgascore service export --kubernetes x [-o x.yaml]
//
// The manager is --manager HOST:PORT (else $FPGASCORE_MANAGER, else 127.0.0.1:50055); the
// admin token comes from $FPGASCORE_ADMIN_TOKEN (or --admin-token-env VAR / --admin-token-file
// F), never from the command line. Exit status 0 = done; 1 = the manager refused or failed
// (the error on stderr); 2 = usage or configuration.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/fpgascore/fpgascore/go/deployment"
)

const managerEnv = "FPGASCORE_MANAGER"
const defaultManager = "127.0.0.1:50055"

const serviceUsage = `usage: fpgascore service create --name NAME [--model M] [--ssl --cert PEM --key PEM]
                                [--primary-key-env VAR] [--secondary-key-env VAR] [--replicas N]
       fpgascore service update SERVICE [--ssl | --no-ssl] [--cert PEM --key PEM] [--model M] [--replicas N]
       fpgascore service get | keys | delete SERVICE
       fpgascore service list
       fpgascore service regenerate-keys SERVICE --type primary|secondary
       fpgascore service export --kubernetes SERVICE [-o FILE] [--image IMAGE] [--replicas N]
       fpgascore model register --name NAME [--description D] [--tag KEY=VALUE]...
       fpgascore model list
  every one: [--manager HOST:PORT] [--admin-token-env VAR | --admin-token-file FILE]
             [--manager-ca PEM] [--timeout SECONDS] [--json]

The manager is --manager (else $FPGASCORE_MANAGER, else 127.0.0.1:50055); the admin token
is read from $FPGASCORE_ADMIN_TOKEN (or the variable --admin-token-env names, or
--admin-token-file), never from a flag value. create prints the address and the keys once.
`

// actions are the verbs of each command, and whether each takes a SERVICE argument.
var actions = map[string]map[string]bool{
	"service": {"create": false, "update": true, "get": true, "keys": true, "delete": true, "list": false,
		"regenerate-keys": true, "export": true},
	"model": {"register": false, "list": false},
}

// deployUsageError prints a usage error of the service and model commands; status 2.
func deployUsageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "fpgascore: "+format+"\n", a...)
	fmt.Fprint(stderr, serviceUsage)
	return 2
}

// tagFlags collects repeated --tag KEY=VALUE.
type tagFlags map[string]string

func (t tagFlags) String() string { return fmt.Sprint(map[string]string(t)) }
func (t tagFlags) Set(v string) error {
	key, value, _ := strings.Cut(v, "=")
	t[key] = value
	return nil
}

// runDeploy runs "service ..." or "model ..." (args[0] is the command).
func runDeploy(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	command := args[0]
	if len(args) < 2 {
		return deployUsageError(stderr, "%s: no action given", command)
	}
	action := args[1]
	if action == "-h" || action == "-help" || action == "--help" {
		fmt.Fprint(stdout, serviceUsage)
		return 0
	}
	takesService, known := actions[command][action]
	if !known {
		return deployUsageError(stderr, "unknown action %q of %s", action, command)
	}
	fs := flag.NewFlagSet("fpgascore "+command+" "+action, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	managerDefault := getenv(managerEnv)
	if managerDefault == "" {
		managerDefault = defaultManager
	}
	manager := fs.String("manager", managerDefault, "the manager, HOST:PORT")
	tokenEnv := fs.String("admin-token-env", deployment.AdminTokenEnvVar, "environment variable holding the admin token")
	tokenFile := fs.String("admin-token-file", "", "file holding the admin token")
	managerCA := fs.String("manager-ca", "", "trust this CA for the manager's TLS (implies TLS)")
	timeout := fs.Float64("timeout", deployment.DefaultTimeout.Seconds(), "seconds per call")
	asJSON := fs.Bool("json", false, "print JSON")
	name := fs.String("name", "", "the name (create, register)")
	model := fs.String("model", "", "a registered model id or name (create: default resnet50)")
	ssl := fs.Bool("ssl", false, "TLS with --cert/--key (create, update)")
	noSSL := fs.Bool("no-ssl", false, "turn SSL off (update)")
	certFile := fs.String("cert", "", "certificate chain, PEM file")
	keyFile := fs.String("key", "", "its private key, PEM file")
	primaryEnv := fs.String("primary-key-env", "", "take the primary key from this variable (create)")
	secondaryEnv := fs.String("secondary-key-env", "", "take the secondary key from this variable (create)")
	replicas := fs.Int("replicas", 0, "replicas (create: default 1; update: scale; export: the Deployment's)")
	keyType := fs.String("type", "", "primary or secondary (regenerate-keys)")
	kubernetes := fs.Bool("kubernetes", false, "Kubernetes manifests (export)")
	output := fs.String("o", "", "write the manifests to FILE, created 0600 (export)")
	fs.StringVar(output, "output", "", "the same as -o")
	image := fs.String("image", "", "the server image of the Deployment (export)")
	description := fs.String("description", "", "the model's description (register)")
	tags := tagFlags{}
	fs.Var(tags, "tag", "KEY=VALUE, repeated (register)")
	positional, err := parseInterspersed(fs, args[2:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, serviceUsage)
			return 0
		}
		fmt.Fprint(stderr, serviceUsage)
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// The flags of each action; the connection flags go with every one.
	allowed := map[string][]string{
		"service create":          {"name", "model", "ssl", "cert", "key", "primary-key-env", "secondary-key-env", "replicas"},
		"service update":          {"ssl", "no-ssl", "cert", "key", "model", "replicas"},
		"service export":          {"kubernetes", "o", "output", "image", "replicas"},
		"service regenerate-keys": {"type"},
		"model register":          {"name", "description", "tag"},
	}[command+" "+action]
	for flagName := range set {
		switch flagName {
		case "manager", "admin-token-env", "admin-token-file", "manager-ca", "timeout", "json":
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == flagName
		}
		if !ok {
			return deployUsageError(stderr, "%s %s does not take --%s", command, action, flagName)
		}
	}
	var service string
	switch {
	case takesService && len(positional) != 1:
		return deployUsageError(stderr, "%s %s takes one SERVICE (an id or a name)", command, action)
	case !takesService && len(positional) != 0:
		return deployUsageError(stderr, "%s %s takes no argument (%q)", command, action, positional[0])
	case takesService:
		service = positional[0]
	}
	switch {
	case math.IsNaN(*timeout) || math.IsInf(*timeout, 0) || *timeout <= 0:
		return deployUsageError(stderr, "--timeout must be a positive number of seconds, not %v", *timeout)
	case (action == "create" || action == "register") && *name == "":
		return deployUsageError(stderr, "%s %s needs --name", command, action)
	case action == "export" && !*kubernetes:
		return deployUsageError(stderr, "service export needs --kubernetes (the one format)")
	case action == "regenerate-keys" && *keyType != "primary" && *keyType != "secondary":
		return deployUsageError(stderr, "--type must be primary or secondary, not %q", *keyType)
	case *ssl && *noSSL:
		return deployUsageError(stderr, "--ssl and --no-ssl contradict each other")
	case set["replicas"] && *replicas < 1:
		return deployUsageError(stderr, "--replicas must be at least 1")
	}

	token := ""
	if *tokenFile != "" {
		data, err := os.ReadFile(*tokenFile)
		if err != nil {
			return deployUsageError(stderr, "--admin-token-file: %v", unwrapPathError(err))
		}
		token = strings.TrimSpace(string(data))
	} else if token = getenv(*tokenEnv); token == "" {
		return deployUsageError(stderr, "no admin token: set %s (or --admin-token-file)", *tokenEnv)
	}
	opts := []deployment.Option{deployment.WithAdminToken(token), deployment.WithTimeout(time.Duration(*timeout * float64(time.Second)))}
	if *managerCA != "" {
		opts = append(opts, deployment.WithRootCAFile(*managerCA))
	}
	client, err := deployment.NewClient(*manager, opts...)
	if err != nil {
		return deployUsageError(stderr, "%v", err)
	}
	defer client.Close()

	// Request options from the flags.
	var serviceOpts []deployment.ServiceOption
	if *certFile != "" || *keyFile != "" || (*ssl && action == "create") {
		var cert, key []byte
		for _, f := range []struct {
			path string
			data *[]byte
			flag string
		}{{*certFile, &cert, "--cert"}, {*keyFile, &key, "--key"}} {
			if f.path == "" {
				continue
			}
			if *f.data, err = os.ReadFile(f.path); err != nil {
				return deployUsageError(stderr, "%s: %v", f.flag, unwrapPathError(err))
			}
		}
		if action == "create" && !*ssl {
			return deployUsageError(stderr, "--cert and --key need --ssl")
		}
		serviceOpts = append(serviceOpts, deployment.WithSSL(cert, key))
	} else if *ssl { // update --ssl without a certificate: the manager says what is missing
		serviceOpts = append(serviceOpts, deployment.WithSSL(nil, nil))
	}
	if *noSSL {
		serviceOpts = append(serviceOpts, deployment.WithoutSSL())
	}
	if *primaryEnv != "" || *secondaryEnv != "" {
		keys := [2]string{}
		for i, variable := range []string{*primaryEnv, *secondaryEnv} {
			if variable == "" {
				continue
			}
			if keys[i] = getenv(variable); keys[i] == "" {
				return deployUsageError(stderr, "environment variable %s is not set or empty", variable)
			}
		}
		serviceOpts = append(serviceOpts, deployment.WithKeys(keys[0], keys[1]))
	}
	if set["replicas"] {
		serviceOpts = append(serviceOpts, deployment.WithReplicas(*replicas))
	}
	if *model != "" && action == "update" {
		serviceOpts = append(serviceOpts, deployment.WithModel(*model))
	}
	if *image != "" {
		serviceOpts = append(serviceOpts, deployment.WithImage(*image))
	}

	ctx := context.Background()
	out := printer{w: stdout, json: *asJSON}
	var svc *deployment.Service
	switch command + " " + action {
	case "model register":
		m, err := client.RegisterModel(ctx, *name, deployment.WithDescription(*description), deployment.WithTags(tags))
		if err != nil {
			return callFailed(stderr, err)
		}
		return out.emit(modelDoc(*m), fmt.Sprintf("model %s registered\n", m.ID))
	case "model list":
		models, err := client.ListModels(ctx)
		if err != nil {
			return callFailed(stderr, err)
		}
		docs, text := []any{}, ""
		for _, m := range models {
			docs = append(docs, modelDoc(m))
			text += fmt.Sprintf("%s\t%s\n", m.ID, m.Description)
		}
		return out.emit(docs, text)
	case "service create":
		modelID := *model
		if modelID == "" {
			modelID = "resnet50"
		}
		svc, err = client.CreateService(ctx, *name, modelID, serviceOpts...)
	case "service update":
		svc, err = client.UpdateService(ctx, service, serviceOpts...)
	case "service get":
		svc, err = client.GetService(ctx, service)
	case "service list":
		services, err := client.ListServices(ctx)
		if err != nil {
			return callFailed(stderr, err)
		}
		docs, text := []any{}, ""
		for _, s := range services {
			docs = append(docs, serviceDoc(s))
			mode := "plaintext"
			if s.SSLEnabled {
				mode = "ssl"
			}
			text += fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.ID, s.State, s.Address(), mode, s.ModelID)
		}
		return out.emit(docs, text)
	case "service delete":
		if err := client.DeleteService(ctx, service); err != nil {
			return callFailed(stderr, err)
		}
		return out.emit(map[string]string{"deleted": service}, fmt.Sprintf("service %s deleted\n", service))
	case "service keys", "service regenerate-keys":
		var keys *deployment.AuthKeys
		if action == "keys" {
			keys, err = client.GetAuthKeys(ctx, service)
		} else {
			kind := deployment.Primary
			if *keyType == "secondary" {
				kind = deployment.Secondary
			}
			keys, err = client.RegenerateAuthKeys(ctx, service, kind)
		}
		if err != nil {
			return callFailed(stderr, err)
		}
		return out.emit(map[string]string{"primary_key": keys.PrimaryKey, "secondary_key": keys.SecondaryKey}, keysText(*keys))
	case "service export":
		manifests, err := client.ExportKubernetes(ctx, service, serviceOpts...)
		if err != nil {
			return callFailed(stderr, err)
		}
		if *output == "" {
			fmt.Fprint(stdout, manifests)
			return 0
		}
		if err := writePrivate(*output, manifests); err != nil {
			fmt.Fprintf(stderr, "fpgascore: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "wrote the manifests of %s to %s (0600; they hold its keys)\n", service, *output)
		return 0
	}
	if err != nil {
		return callFailed(stderr, err)
	}
	return out.emit(serviceDoc(*svc), serviceText(*svc))
}

// callFailed prints a refused or failed call (the manager's message, bounded); status 1.
func callFailed(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "error: %s\n", bounded(err.Error()))
	return 1
}

// printer prints a document as JSON (--json) or its text.
type printer struct {
	w    io.Writer
	json bool
}

func (p printer) emit(doc any, text string) int {
	if !p.json {
		fmt.Fprint(p.w, text)
		return 0
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		fmt.Fprintf(p.w, "fpgascore: %v\n", err)
		return 1
	}
	fmt.Fprintf(p.w, "%s\n", data)
	return 0
}

// serviceDoc is the JSON of a service, the Python command's fields (the keys only when the
// call returned them).
func serviceDoc(s deployment.Service) map[string]any {
	doc := map[string]any{"id": s.ID, "name": s.Name, "state": string(s.State), "model_id": s.ModelID,
		"ip_address": s.IPAddress, "port": s.Port, "ssl_enabled": s.SSLEnabled, "num_replicas": s.NumReplicas,
		"runtime": s.Runtime}
	if s.StateMessage != "" {
		doc["state_message"] = s.StateMessage
	}
	if s.CertificateSHA256 != "" {
		doc["certificate_sha256"] = s.CertificateSHA256
	}
	if s.PrimaryKey != "" {
		doc["primary_key"], doc["secondary_key"] = s.PrimaryKey, s.SecondaryKey
	}
	return doc
}

func serviceText(s deployment.Service) string {
	ssl := "SSL off (no keys)"
	if s.SSLEnabled {
		ssl = "SSL on"
	}
	plural := "s"
	if s.NumReplicas == 1 {
		plural = ""
	}
	text := fmt.Sprintf("service %s (%s): %s at %s, %s, model %s, %d replica%s\n", s.Name, s.ID, s.State, s.Address(), ssl,
		s.ModelID, s.NumReplicas, plural)
	if s.StateMessage != "" {
		text += "  " + s.StateMessage + "\n"
	}
	if s.PrimaryKey != "" {
		text += keysText(deployment.AuthKeys{PrimaryKey: s.PrimaryKey, SecondaryKey: s.SecondaryKey})
	}
	return text
}

// keysText prints the keys: what the command is asked for (never anywhere else).
func keysText(k deployment.AuthKeys) string {
	return fmt.Sprintf("primary key:   %s\nsecondary key: %s\n", k.PrimaryKey, k.SecondaryKey)
}

func modelDoc(m deployment.Model) map[string]any {
	tags := map[string]string{}
	keys := make([]string, 0, len(m.Tags))
	for k := range m.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tags[k] = m.Tags[k]
	}
	return map[string]any{"id": m.ID, "name": m.Name, "version": m.Version, "description": m.Description, "tags": tags}
}

// writePrivate writes text to path, mode 0600 (an existing file is truncated and made 0600).
func writePrivate(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
