// Package deployment is the Go client of the fpgascore control plane: the DeploymentService
// a manager serves (scripts/run-emulator manage), with the seed's operations. It registers
// models, creates, updates, scales and deletes scoring services, and reads and rotates their
// keys:
//
//	deployments, err := deployment.NewClient("127.0.0.1:50055", deployment.WithAdminToken(token))
//	...
//	defer deployments.Close()
//	model, err := deployments.RegisterModel(ctx, "resnet50")
//	service, err := deployments.CreateService(ctx, "my-service", model.ID, deployment.WithSSL(certPEM, keyPEM))
//	client, err := fpgascore.NewClient(service.Address(), fpgascore.WithTLS(),
//		fpgascore.WithAccessToken(service.PrimaryKey))
//
// Required parameters are arguments; optional ones are functional options: Option for
// NewClient, ServiceOption for the service calls (WithSSL, WithoutSSL, WithKeys,
// WithReplicas, WithModel, WithImage; a call refuses one it does not take with
// INVALID_ARGUMENT), ModelOption for RegisterModel.
//
// Every call sends the admin token as "authorization": over TLS, or over plaintext only to a
// loopback address unless WithAllowInsecureKey. Every error is an *fpgascore.Error (the
// scoring client's: Code, Message, RequestID; status.FromError and errors.As work);
// errors.Is(err, deployment.ErrNotFound), ErrAlreadyExists, ErrUnauthenticated tell the
// common ones apart. No error message and no fmt verb on a Client, Service or AuthKeys
// shows the token or a key.
package deployment
