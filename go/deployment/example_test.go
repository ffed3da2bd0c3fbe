package deployment_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"google.golang.org/grpc/status"

	"github.com/fpgascore/fpgascore/go/deployment"
	"github.com/fpgascore/fpgascore/go/fpgascore"
)

// Create a service with SSL, score with its primary key, rotate the secondary, delete it.
func Example() {
	ctx := context.Background()
	deployments, err := deployment.NewClient("127.0.0.1:50055", deployment.WithAdminToken(os.Getenv("FPGASCORE_ADMIN_TOKEN")))
	if err != nil {
		log.Fatal(err)
	}
	defer deployments.Close()

	cert, _ := os.ReadFile("tls/server.pem")
	key, _ := os.ReadFile("tls/server-key.pem")
	service, err := deployments.CreateService(ctx, "demo", "resnet50", deployment.WithSSL(cert, key))
	if errors.Is(err, deployment.ErrAlreadyExists) {
		service, err = deployments.GetService(ctx, "demo") // the keys: GetAuthKeys
	}
	if err != nil {
		log.Fatal(err)
	}
	keys, err := deployments.GetAuthKeys(ctx, service.ID)
	if err != nil {
		log.Fatal(err)
	}
	client, err := fpgascore.NewClient(service.Address(), fpgascore.WithRootCAFile("tls/ca.pem"),
		fpgascore.WithAccessToken(keys.PrimaryKey), fpgascore.WithSecondaryAccessToken(keys.SecondaryKey))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	// ... client.ScoreImage(ctx, image) ...
	if _, err := deployments.RegenerateAuthKeys(ctx, service.ID, deployment.Secondary); err != nil {
		log.Fatal(err)
	}
	if err := deployments.DeleteService(ctx, service.ID); err != nil {
		log.Fatal(err)
	}
}

// The admin token goes over plaintext only to a loopback address.
func ExampleNewClient_tokenOverPlaintext() {
	_, err := deployment.NewClient("10.0.0.7:50055", deployment.WithAdminToken("an-admin-token-0123"))
	fmt.Println(status.Code(err))
	// Output: FailedPrecondition
}

// Scale a service to three replicas behind its one address.
func ExampleClient_UpdateService() {
	deployments, err := deployment.NewClient("127.0.0.1:50055")
	if err != nil {
		log.Fatal(err)
	}
	defer deployments.Close()
	service, err := deployments.UpdateService(context.Background(), "demo", deployment.WithReplicas(3))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(service.NumReplicas, service.Address())
}
