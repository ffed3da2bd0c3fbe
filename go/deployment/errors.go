package deployment

import (
	"google.golang.org/grpc/codes"

	"github.com/fpgascore/fpgascore/go/fpgascore"
)

// Targets for errors.Is: an *fpgascore.Error matches the one of its code (any message).
var (
	// ErrNotFound: no such model or service.
	ErrNotFound error = &fpgascore.Error{Code: codes.NotFound}
	// ErrAlreadyExists: a service of that name exists.
	ErrAlreadyExists error = &fpgascore.Error{Code: codes.AlreadyExists}
	// ErrUnauthenticated: no or a wrong admin token (a scoring service: no or a wrong key).
	ErrUnauthenticated error = &fpgascore.Error{Code: codes.Unauthenticated}
	// ErrInvalidArgument: a bad name, PEM or combination of options; the message names it.
	ErrInvalidArgument error = &fpgascore.Error{Code: codes.InvalidArgument}
	// ErrUnimplemented: the manager does not do that (yet).
	ErrUnimplemented error = &fpgascore.Error{Code: codes.Unimplemented}
)
