// Package lxd is a small client for the LXD REST API (API 1.0, as served by
// LXD 5.0 and later) over the daemon's unix socket.
//
// It is shaped like LXD's own Go client: the wire types live apart from the
// transport (one struct per verb, such as [Instance], [InstancePut] and
// [InstancesPost]), each resource has its own file, and methods are named
// verb+resource ([Client.GetInstance], [Client.CreateInstance],
// [Client.UpdateInstanceState]). Every request goes through one pipeline that
// decodes LXD's sync/async/error envelope. Asynchronous calls return an
// [Operation] whose [Operation.Wait] long-polls the daemon with a timeout
// taken from the context's deadline.
//
// Around those primitives sit a few helpers that wait and are idempotent where
// that makes sense: [Client.LaunchInstance], [Client.StartInstance],
// [Client.StopInstance], [Client.RemoveInstance] (a missing instance counts
// as removed), [Client.WaitInstanceReady], [Client.ExecInstance] and
// [Client.PublishInstance].
//
// Errors are typed: [ErrNotFound] and [ErrConflict] match with errors.Is, a
// daemon error carries its HTTP status in a [*StatusError], and a failed
// operation is an [*OperationError]. No secret passed to the client (file
// contents, exec environments) is ever logged or put into an error message.
//
// The client holds no context: every call that does I/O takes one, and its
// deadline bounds the call. The HTTP client it builds has no overall timeout,
// so long operation waits and the event stream are limited only by the
// context.
package lxd
