package fpgascore

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// CallInfo receives facts about one call: attach it to the call's context with
// WithCallInfo; the client fills it in when the call returns, successful or not.
type CallInfo struct {
	// RequestID is the server's id of the last attempt (metadata "request-id"), empty when
	// the server sent none or the call never reached it.
	RequestID string
	// Attempts is the number of attempts made, retries and key failover included.
	Attempts int
	// Code is the call's final code: codes.OK on success.
	Code codes.Code
	// Trailer is the last attempt's trailing metadata (nil when none arrived, e.g. the
	// call never reached a server).
	Trailer metadata.MD
}

type callInfoKey struct{}

// WithCallInfo returns a context that makes the client fill info for the call made with
// it. Use a fresh CallInfo per call.
//
//	var info fpgascore.CallInfo
//	scores, err := client.ScoreImage(fpgascore.WithCallInfo(ctx, &info), img)
//	log.Printf("request %s", info.RequestID)
func WithCallInfo(ctx context.Context, info *CallInfo) context.Context {
	return context.WithValue(ctx, callInfoKey{}, info)
}

func callInfoFrom(ctx context.Context) *CallInfo {
	info, _ := ctx.Value(callInfoKey{}).(*CallInfo)
	return info
}

// withCallInfoOf returns ctx (Background when nil) with a CallInfo to fill: the caller's own
// when ctx carries one (WithCallInfo), else a fresh one, so the call knows its request id.
func withCallInfoOf(ctx context.Context) (context.Context, *CallInfo) {
	if ctx == nil {
		ctx = context.Background()
	}
	if info := callInfoFrom(ctx); info != nil {
		return ctx, info
	}
	info := &CallInfo{}
	return WithCallInfo(ctx, info), info
}
