package deployment

import (
	"context"
	"strings"

	"google.golang.org/grpc/codes"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// Every method takes a service by its id ("svc_...") or its name.

// RegisterModel registers name (a new version of it when it exists) and returns the Model,
// whose ID is "name:version".
func (c *Client) RegisterModel(ctx context.Context, name string, opts ...ModelOption) (*Model, error) {
	var p serviceParams
	for _, opt := range opts {
		if opt != nil {
			opt(&p)
		}
	}
	resp, err := invoke(c, ctx, c.stub.RegisterModel, &pb.RegisterModelRequest{Name: name, Description: p.description, Tags: p.tags})
	if err != nil {
		return nil, err
	}
	m := modelFrom(resp.GetModel())
	return &m, nil
}

// GetModel returns a model by id ("name:version") or name (its latest version).
func (c *Client) GetModel(ctx context.Context, modelID string) (*Model, error) {
	resp, err := invoke(c, ctx, c.stub.GetModel, &pb.GetModelRequest{ModelId: modelID})
	if err != nil {
		return nil, err
	}
	m := modelFrom(resp.GetModel())
	return &m, nil
}

// ListModels returns the registered models, oldest first.
func (c *Client) ListModels(ctx context.Context) ([]Model, error) {
	resp, err := invoke(c, ctx, c.stub.ListModels, &pb.ListModelsRequest{})
	if err != nil {
		return nil, err
	}
	out := make([]Model, 0, len(resp.GetModels()))
	for _, m := range resp.GetModels() {
		out = append(out, modelFrom(m))
	}
	return out, nil
}

// CreateService starts a service serving modelID (an id, or a bare name: its latest version)
// and returns it once it serves (RUNNING), with its keys when it has SSL. Options:
// WithSSL(certPEM, keyPEM) (TLS and keys; without it the service is plaintext and needs no
// key), WithKeys(primary, secondary) (with WithSSL; else generated), WithReplicas(n).
// A name in use is ALREADY_EXISTS, an unknown model NOT_FOUND, bad PEM INVALID_ARGUMENT.
func (c *Client) CreateService(ctx context.Context, name, modelID string, opts ...ServiceOption) (*Service, error) {
	p, err := params("CreateService", opts, "WithSSL", "WithKeys", "WithReplicas")
	if err != nil {
		return nil, err
	}
	req := &pb.CreateServiceRequest{Name: name, ModelId: modelID, SslEnabled: p.ssl != nil && *p.ssl,
		SslCertificate: p.cert, SslKey: p.key, PrimaryKey: p.primary, SecondaryKey: p.secondary}
	if p.replicas != nil {
		if req.NumReplicas, err = replicas(*p.replicas, 1); err != nil {
			return nil, err
		}
	}
	resp, err := invoke(c, ctx, c.stub.CreateService, req)
	if err != nil {
		return nil, err
	}
	s := serviceFrom(resp.GetService(), resp.GetKeys())
	return &s, nil
}

// UpdateService changes a service. Options: WithSSL(certPEM, keyPEM) (a new certificate,
// swapped in without a restart; on a service without SSL it turns SSL on and the returned
// Service carries the new keys), WithoutSSL() (restart without TLS, keys dropped),
// WithModel(id) (another model, restart on the same port), WithReplicas(n) (scale).
func (c *Client) UpdateService(ctx context.Context, serviceID string, opts ...ServiceOption) (*Service, error) {
	p, err := params("UpdateService", opts, "WithSSL", "WithoutSSL", "WithModel", "WithReplicas")
	if err != nil {
		return nil, err
	}
	req := &pb.UpdateServiceRequest{ServiceId: serviceID, SslEnabled: p.ssl, SslCertificate: p.cert, SslKey: p.key, ModelId: p.model}
	if p.replicas != nil {
		n, err := replicas(*p.replicas, 1)
		if err != nil {
			return nil, err
		}
		req.NumReplicas = &n
	}
	resp, err := invoke(c, ctx, c.stub.UpdateService, req)
	if err != nil {
		return nil, err
	}
	s := serviceFrom(resp.GetService(), resp.GetKeys())
	return &s, nil
}

// GetService returns a service with each replica's status (Service.Replicas), never its keys.
func (c *Client) GetService(ctx context.Context, serviceID string) (*Service, error) {
	resp, err := invoke(c, ctx, c.stub.GetService, &pb.GetServiceRequest{ServiceId: serviceID})
	if err != nil {
		return nil, err
	}
	s := serviceFrom(resp.GetService(), nil)
	return &s, nil
}

// ListServices returns the services, oldest first; WithModel(id): only that model's.
func (c *Client) ListServices(ctx context.Context, opts ...ServiceOption) ([]Service, error) {
	p, err := params("ListServices", opts, "WithModel")
	if err != nil {
		return nil, err
	}
	resp, err := invoke(c, ctx, c.stub.ListServices, &pb.ListServicesRequest{ModelId: p.model})
	if err != nil {
		return nil, err
	}
	out := make([]Service, 0, len(resp.GetServices()))
	for _, s := range resp.GetServices() {
		out = append(out, serviceFrom(s, nil))
	}
	return out, nil
}

// DeleteService stops a service and removes its process or containers and its files. A
// service that does not exist is NOT_FOUND.
func (c *Client) DeleteService(ctx context.Context, serviceID string) error {
	_, err := invoke(c, ctx, c.stub.DeleteService, &pb.DeleteServiceRequest{ServiceId: serviceID})
	return err
}

// GetAuthKeys returns a service's two keys (FAILED_PRECONDITION for a service without SSL).
func (c *Client) GetAuthKeys(ctx context.Context, serviceID string) (*AuthKeys, error) {
	resp, err := invoke(c, ctx, c.stub.GetAuthKeys, &pb.GetAuthKeysRequest{ServiceId: serviceID})
	if err != nil {
		return nil, err
	}
	k := keysFrom(resp.GetKeys())
	return &k, nil
}

// RegenerateAuthKeys replaces one key (Primary or Secondary) and returns both. The other key
// works throughout; the old one is refused once this returns.
func (c *Client) RegenerateAuthKeys(ctx context.Context, serviceID string, key KeyType) (*AuthKeys, error) {
	if key != Primary && key != Secondary {
		return nil, configError(codes.InvalidArgument, "the key type must be deployment.Primary or deployment.Secondary, not %s", key)
	}
	resp, err := invoke(c, ctx, c.stub.RegenerateAuthKeys, &pb.RegenerateAuthKeysRequest{
		ServiceId: serviceID, KeyType: pb.RegenerateAuthKeysRequest_KeyType(key)})
	if err != nil {
		return nil, err
	}
	k := keysFrom(resp.GetKeys())
	return &k, nil
}

// ExportKubernetes returns the service as Kubernetes manifests (YAML: a Secret with its
// certificate, private key and keys, a Deployment, a Service). Options: WithImage (the
// server image; default the manager's), WithReplicas (the Deployment's; default the
// service's). The text holds secrets: write it to a private file, never to a log.
func (c *Client) ExportKubernetes(ctx context.Context, serviceID string, opts ...ServiceOption) (string, error) {
	p, err := params("ExportKubernetes", opts, "WithImage", "WithReplicas")
	if err != nil {
		return "", err
	}
	req := &pb.ExportServiceRequest{ServiceId: serviceID, Format: pb.ExportServiceRequest_KUBERNETES, Image: p.image}
	if p.replicas != nil {
		if req.Replicas, err = replicas(*p.replicas, 1); err != nil {
			return "", err
		}
	}
	resp, err := invoke(c, ctx, c.stub.ExportService, req)
	if err != nil {
		return "", err
	}
	return resp.GetManifests(), nil
}

// params applies opts and refuses an option the call does not take.
func params(call string, opts []ServiceOption, allowed ...string) (serviceParams, error) {
	var p serviceParams
	for _, opt := range opts {
		if opt != nil {
			opt(&p)
		}
	}
	for _, name := range p.given {
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		if !ok {
			return p, configError(codes.InvalidArgument, "%s does not take %s (it takes %s)", call, name, strings.Join(allowed, ", "))
		}
	}
	return p, nil
}

// replicas checks a replica count against the contract's int32.
func replicas(n, least int) (int32, error) {
	if n < least || n > 1<<31-1 {
		return 0, configError(codes.InvalidArgument, "WithReplicas(%d): the count must be at least %d", n, least)
	}
	return int32(n), nil
}
