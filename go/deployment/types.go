package deployment

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/fpgascore/fpgascore/go/fpgascorepb"
)

// ServiceState is where a service is in its life.
type ServiceState string

// The states of a service (Service.State).
const (
	StateCreating ServiceState = "CREATING" // being started (create, or a restart)
	StateRunning  ServiceState = "RUNNING"  // serving on Address()
	StateFailed   ServiceState = "FAILED"   // not serving; StateMessage says why
	StateDeleting ServiceState = "DELETING" // being deleted
	StateUnknown  ServiceState = "UNKNOWN"  // unset, or a newer manager's state
)

// ReplicaHealth is what a replica's server reports.
type ReplicaHealth string

// The health of a replica (ReplicaStatus.Health).
const (
	ReplicaServing    ReplicaHealth = "SERVING"
	ReplicaNotServing ReplicaHealth = "NOT_SERVING"
	ReplicaUnknown    ReplicaHealth = "UNKNOWN" // its metrics could not be read (HealthMessage says why), or a newer manager's value
)

// KeyType names one of a service's two keys (RegenerateAuthKeys).
type KeyType int

// The two keys.
const (
	Primary   KeyType = KeyType(pb.RegenerateAuthKeysRequest_PRIMARY)
	Secondary KeyType = KeyType(pb.RegenerateAuthKeysRequest_SECONDARY)
)

// String is "PRIMARY" or "SECONDARY".
func (k KeyType) String() string {
	switch k {
	case Primary:
		return "PRIMARY"
	case Secondary:
		return "SECONDARY"
	}
	return "KeyType(" + strconv.Itoa(int(k)) + ")"
}

// Model is a registered model; ID is "<name>:<version>".
type Model struct {
	ID          string
	Name        string
	Version     int64
	Description string
	Tags        map[string]string
	CreatedAt   time.Time // zero when the manager sent none
}

// Service is a scoring service. PrimaryKey and SecondaryKey are set only on what
// CreateService (with SSL) and an UpdateService that turned SSL on return; otherwise they
// are empty: GetAuthKeys reads them. Printing a Service (any fmt verb) never shows a key.
type Service struct {
	ID           string // "svc_" and 12 hex digits
	Name         string
	ModelID      string
	State        ServiceState
	StateMessage string // why it is FAILED (or what the last restart did)
	IPAddress    string
	Port         int
	SSLEnabled   bool
	NumReplicas  int
	Runtime      string // "process" or "container"
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// CertificateSHA256 is the hex SHA-256 fingerprint of the leaf certificate in use ("" without SSL).
	CertificateSHA256   string
	CertificateNotAfter time.Time
	// Replicas is each running server's status, read from its metrics: filled by GetService only.
	Replicas     []ReplicaStatus
	PrimaryKey   string
	SecondaryKey string
}

// Address is "IPAddress:Port" (brackets around an IPv6 address), the target of a scoring client.
func (s Service) Address() string { return net.JoinHostPort(s.IPAddress, strconv.Itoa(s.Port)) }

// String describes the service without its keys ("<redacted>" when one is set).
func (s Service) String() string {
	return fmt.Sprintf("deployment.Service{ID: %q, Name: %q, ModelID: %q, State: %s, Address: %q, SSLEnabled: %t, NumReplicas: %d, PrimaryKey: %s, SecondaryKey: %s}",
		s.ID, s.Name, s.ModelID, s.State, s.Address(), s.SSLEnabled, s.NumReplicas, masked(s.PrimaryKey), masked(s.SecondaryKey))
}

// GoString is String, so %#v never shows a key.
func (s Service) GoString() string { return s.String() }

// Format prints String for every verb, so %v, %+v, %s and %q never show a key.
func (s Service) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// ReplicaStatus is one server of a service as its metrics showed it when GetService was
// answered. Counts and latencies are over the server process's lifetime (a restart starts
// them again); latencies are of Predict calls, every outcome, estimated from the server's
// histogram (0 before the first call).
type ReplicaStatus struct {
	Index         int
	Health        ReplicaHealth
	HealthMessage string
	CallsByCode   map[string]int64 // calls answered, by gRPC code name ("OK", "UNAUTHENTICATED", ...)
	ImagesScored  int64
	QueueInUse    int
	QueueCapacity int
	LatencyP50    time.Duration
	LatencyP99    time.Duration
	ObservedAt    time.Time
}

// AuthKeys are a service's two keys; a scoring call carries either. Printing them (any fmt
// verb) never shows a key.
type AuthKeys struct {
	PrimaryKey   string
	SecondaryKey string
}

// String is "deployment.AuthKeys{PrimaryKey: <redacted>, SecondaryKey: <redacted>}".
func (k AuthKeys) String() string {
	return fmt.Sprintf("deployment.AuthKeys{PrimaryKey: %s, SecondaryKey: %s}", masked(k.PrimaryKey), masked(k.SecondaryKey))
}

// GoString is String, so %#v never shows a key.
func (k AuthKeys) GoString() string { return k.String() }

// Format prints String for every verb.
func (k AuthKeys) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

func masked(key string) string {
	if key == "" {
		return `""`
	}
	return "<redacted>"
}

func timeOf(t *timestamppb.Timestamp) time.Time {
	if t == nil || (t.GetSeconds() == 0 && t.GetNanos() == 0) {
		return time.Time{}
	}
	return t.AsTime()
}

func milliseconds(ms float64) time.Duration {
	if ms != ms || ms <= 0 { // NaN, negative: nothing measured
		return 0
	}
	if ms >= float64(1<<63-1)/float64(time.Millisecond) {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(ms * float64(time.Millisecond))
}

func modelFrom(m *pb.Model) Model {
	return Model{ID: m.GetId(), Name: m.GetName(), Version: m.GetVersion(), Description: m.GetDescription(),
		Tags: copyMap(m.GetTags()), CreatedAt: timeOf(m.GetCreatedAt())}
}

var states = map[pb.Service_State]ServiceState{
	pb.Service_CREATING: StateCreating, pb.Service_RUNNING: StateRunning,
	pb.Service_FAILED: StateFailed, pb.Service_DELETING: StateDeleting,
}

var healths = map[pb.ReplicaStatus_Health]ReplicaHealth{
	pb.ReplicaStatus_SERVING: ReplicaServing, pb.ReplicaStatus_NOT_SERVING: ReplicaNotServing,
}

// serviceFrom reads a service message and, when the call answered them, its keys.
func serviceFrom(s *pb.Service, keys *pb.AuthKeys) Service {
	state, ok := states[s.GetState()]
	if !ok {
		state = StateUnknown
	}
	out := Service{
		ID: s.GetId(), Name: s.GetName(), ModelID: s.GetModelId(), State: state, StateMessage: s.GetStateMessage(),
		IPAddress: s.GetIpAddress(), Port: int(s.GetPort()), SSLEnabled: s.GetSslEnabled(),
		NumReplicas: int(s.GetNumReplicas()), Runtime: s.GetRuntime(),
		CreatedAt: timeOf(s.GetCreatedAt()), UpdatedAt: timeOf(s.GetUpdatedAt()),
		CertificateSHA256: s.GetCertificateSha256(), CertificateNotAfter: timeOf(s.GetCertificateNotAfter()),
		PrimaryKey: keys.GetPrimaryKey(), SecondaryKey: keys.GetSecondaryKey(),
	}
	for _, r := range s.GetReplicas() {
		health, ok := healths[r.GetHealth()]
		if !ok {
			health = ReplicaUnknown
		}
		out.Replicas = append(out.Replicas, ReplicaStatus{
			Index: int(r.GetIndex()), Health: health, HealthMessage: r.GetHealthMessage(),
			CallsByCode: copyMap(r.GetCallsByCode()), ImagesScored: r.GetImagesScored(),
			QueueInUse: int(r.GetQueueInUse()), QueueCapacity: int(r.GetQueueCapacity()),
			LatencyP50: milliseconds(r.GetLatencyP50Ms()), LatencyP99: milliseconds(r.GetLatencyP99Ms()),
			ObservedAt: timeOf(r.GetObservedAt()),
		})
	}
	return out
}

func keysFrom(k *pb.AuthKeys) AuthKeys {
	return AuthKeys{PrimaryKey: k.GetPrimaryKey(), SecondaryKey: k.GetSecondaryKey()}
}

func copyMap[V any](m map[string]V) map[string]V {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
