package lxd

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"
)

// This file holds the wire types: the JSON bodies LXD answers and accepts,
// one struct per verb as in LXD's shared/api package. Field names follow
// LXD's; only the fields this project has a use for are declared.

// StatusCode is LXD's numeric status of an operation or an instance.
type StatusCode int

// Status codes used by LXD (shared/api/status_code.go).
const (
	StatusOperationCreated StatusCode = 100
	StatusStarted          StatusCode = 101
	StatusStopped          StatusCode = 102
	StatusRunning          StatusCode = 103
	StatusCancelling       StatusCode = 104
	StatusPending          StatusCode = 105
	StatusStarting         StatusCode = 106
	StatusStopping         StatusCode = 107
	StatusAborting         StatusCode = 108
	StatusFreezing         StatusCode = 109
	StatusFrozen           StatusCode = 110
	StatusThawed           StatusCode = 111
	StatusErrored          StatusCode = 112 // LXD's "Error" status
	StatusReady            StatusCode = 113
	StatusSuccess          StatusCode = 200
	StatusFailure          StatusCode = 400
	StatusCancelled        StatusCode = 401
)

// Final reports whether an operation with this status has ended.
func (s StatusCode) Final() bool {
	return s == StatusSuccess || s == StatusFailure || s == StatusCancelled
}

// OperationInfo is the state of a background operation
// (GET /1.0/operations/{id}).
type OperationInfo struct {
	ID          string              `json:"id"`
	Class       string              `json:"class"` // "task", "websocket" or "token"
	Description string              `json:"description"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	Status      string              `json:"status"`
	StatusCode  StatusCode          `json:"status_code"`
	Resources   map[string][]string `json:"resources"`
	// Metadata is the operation's result, whose shape depends on the
	// operation (an exec's exit code, a published image's fingerprint...).
	Metadata  json.RawMessage `json:"metadata"`
	MayCancel bool            `json:"may_cancel"`
	Err       string          `json:"err"`
	Location  string          `json:"location"`
}

// Server is the daemon's description of itself (GET /1.0).
type Server struct {
	APIExtensions []string          `json:"api_extensions"`
	APIStatus     string            `json:"api_status"`
	APIVersion    string            `json:"api_version"`
	Auth          string            `json:"auth"`
	Public        bool              `json:"public"`
	Config        map[string]any    `json:"config"`
	Environment   ServerEnvironment `json:"environment"`
}

// ServerEnvironment is the read-only part of [Server].
type ServerEnvironment struct {
	Architectures []string `json:"architectures"`
	// Driver lists the instance drivers, joined by " | " (such as
	// "lxc | qemu"). Since the server_instance_driver_operational API
	// extension it names only the drivers that are operational.
	Driver string `json:"driver"`
	// DriverVersion lists the drivers' versions in the same order.
	DriverVersion      string `json:"driver_version"`
	Firewall           string `json:"firewall"`
	Kernel             string `json:"kernel"`
	KernelArchitecture string `json:"kernel_architecture"`
	KernelVersion      string `json:"kernel_version"`
	OSName             string `json:"os_name"`
	OSVersion          string `json:"os_version"`
	Project            string `json:"project"`
	Server             string `json:"server"`
	ServerClustered    bool   `json:"server_clustered"`
	ServerName         string `json:"server_name"`
	ServerPid          int    `json:"server_pid"`
	ServerVersion      string `json:"server_version"`
	Storage            string `json:"storage"`
	StorageVersion     string `json:"storage_version"`
	// StorageSupportedDrivers are the storage drivers the daemon can use
	// (their tools were found when it started).
	StorageSupportedDrivers []StorageDriverInfo `json:"storage_supported_drivers"`
}

// StorageDriverInfo is a storage driver the daemon supports. LXD 5.0 sends
// its fields with capitals (Go's default field names).
type StorageDriverInfo struct {
	Name    string `json:"Name"`
	Version string `json:"Version"`
	Remote  bool   `json:"Remote"`
}

// InstanceType is the kind of an instance.
type InstanceType string

// Instance types.
const (
	InstanceTypeContainer InstanceType = "container"
	InstanceTypeVM        InstanceType = "virtual-machine"
)

// InstancePut is the editable part of an instance (PUT /1.0/instances/{name}).
type InstancePut struct {
	Architecture string `json:"architecture,omitempty"`
	// Config holds instance options such as "limits.cpu",
	// "limits.memory" and free-form "user.*" keys (which LXD keeps as
	// given: use them to tag what you create).
	Config map[string]string `json:"config"`
	// Devices maps device names to their options, such as
	// {"type": "disk", "path": "/", "pool": "default"}.
	Devices map[string]map[string]string `json:"devices"`
	// Ephemeral instances are deleted by LXD when they stop.
	Ephemeral bool `json:"ephemeral"`
	// Profiles are applied in order. Nil means LXD's "default" profile;
	// an empty, non-nil slice means no profile at all.
	Profiles    []string `json:"profiles"`
	Stateful    bool     `json:"stateful"`
	Description string   `json:"description"`
}

// Instance is an instance as LXD reports it (GET /1.0/instances/{name}).
type Instance struct {
	InstancePut
	Name            string                       `json:"name"`
	Type            InstanceType                 `json:"type"`
	Status          string                       `json:"status"`
	StatusCode      StatusCode                   `json:"status_code"`
	CreatedAt       time.Time                    `json:"created_at"`
	LastUsedAt      time.Time                    `json:"last_used_at"`
	Location        string                       `json:"location"`
	Project         string                       `json:"project"`
	ExpandedConfig  map[string]string            `json:"expanded_config"`
	ExpandedDevices map[string]map[string]string `json:"expanded_devices"`
	// State is the live state, filled by the calls that say so
	// ([Client.GetInstance], [Client.GetInstances]).
	State *InstanceState `json:"state,omitempty"`
}

// Running reports whether the instance's status is Running.
func (i *Instance) Running() bool { return i.StatusCode == StatusRunning }

// InstanceSource says what a new instance is made from.
type InstanceSource struct {
	// Type is "image" (the usual), "none", "copy" or "migration".
	Type string `json:"type"`
	// Alias or Fingerprint names the image; Properties selects one by its
	// properties instead.
	Alias       string            `json:"alias,omitempty"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	Properties  map[string]string `json:"properties,omitempty"`
	// Server, Protocol and Mode fetch the image from a remote image server:
	// Server "https://cloud-images.ubuntu.com/releases", Protocol
	// "simplestreams", Mode "pull". Empty Server means a local image.
	Server   string `json:"server,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	Mode     string `json:"mode,omitempty"`
}

// InstancesPost creates an instance (POST /1.0/instances).
//
// LXD 5.0 ignores a "start" field here: start the new instance with
// [Client.UpdateInstanceState], or use [Client.LaunchInstance].
type InstancesPost struct {
	InstancePut
	Name   string         `json:"name"`
	Type   InstanceType   `json:"type"`
	Source InstanceSource `json:"source"`
	// InstanceType is a cloud instance type such as "t2.micro" (a shortcut
	// for limits), not the container/VM choice, which is Type.
	InstanceType string `json:"instance_type,omitempty"`
}

// InstanceState is an instance's live state
// (GET /1.0/instances/{name}/state).
type InstanceState struct {
	Status     string                          `json:"status"`
	StatusCode StatusCode                      `json:"status_code"`
	Disk       map[string]InstanceStateDisk    `json:"disk"`
	Memory     InstanceStateMemory             `json:"memory"`
	Network    map[string]InstanceStateNetwork `json:"network"`
	// Pid is the instance's init process as seen from the host.
	Pid int64 `json:"pid"`
	// Processes counts the instance's processes (-1 when unknown).
	Processes int64            `json:"processes"`
	CPU       InstanceStateCPU `json:"cpu"`
}

// InstanceStateDisk is one disk's usage.
type InstanceStateDisk struct {
	Usage int64 `json:"usage"`
}

// InstanceStateMemory is an instance's memory usage, in bytes.
type InstanceStateMemory struct {
	Usage         int64 `json:"usage"`
	UsagePeak     int64 `json:"usage_peak"`
	SwapUsage     int64 `json:"swap_usage"`
	SwapUsagePeak int64 `json:"swap_usage_peak"`
}

// InstanceStateCPU is an instance's CPU usage, in nanoseconds.
type InstanceStateCPU struct {
	Usage int64 `json:"usage"`
}

// InstanceStateNetwork is one network interface's state.
type InstanceStateNetwork struct {
	Addresses []InstanceStateNetworkAddress `json:"addresses"`
	HostName  string                        `json:"host_name"`
	Hwaddr    string                        `json:"hwaddr"`
	Mtu       int                           `json:"mtu"`
	State     string                        `json:"state"`
	Type      string                        `json:"type"`
}

// InstanceStateNetworkAddress is one address of an interface.
type InstanceStateNetworkAddress struct {
	Family  string `json:"family"`
	Address string `json:"address"`
	Netmask string `json:"netmask"`
	Scope   string `json:"scope"`
}

// StateAction is what [InstanceStatePut] asks of an instance.
type StateAction string

// State actions.
const (
	ActionStart    StateAction = "start"
	ActionStop     StateAction = "stop"
	ActionRestart  StateAction = "restart"
	ActionFreeze   StateAction = "freeze"
	ActionUnfreeze StateAction = "unfreeze"
)

// InstanceStatePut changes an instance's state
// (PUT /1.0/instances/{name}/state).
type InstanceStatePut struct {
	Action StateAction `json:"action"`
	// Timeout (seconds) is how long a clean shutdown may take (stop and
	// restart). LXD treats 0, and any Force, as "kill at once", and -1 as
	// "wait for ever".
	Timeout  int  `json:"timeout"`
	Force    bool `json:"force"`
	Stateful bool `json:"stateful"`
}

// instanceExecPost runs a command (POST /1.0/instances/{name}/exec).
type instanceExecPost struct {
	Command      []string          `json:"command"`
	Environment  map[string]string `json:"environment,omitempty"`
	WaitForWS    bool              `json:"wait-for-websocket"`
	Interactive  bool              `json:"interactive"`
	RecordOutput bool              `json:"record-output"`
	User         uint32            `json:"user"`
	Group        uint32            `json:"group"`
	Cwd          string            `json:"cwd,omitempty"`
}

// execResult is the metadata of a finished recorded exec operation.
type execResult struct {
	Return int               `json:"return"`
	Output map[string]string `json:"output"`
}

// ImagePut is the editable part of an image (PUT /1.0/images/{fingerprint}).
type ImagePut struct {
	AutoUpdate bool              `json:"auto_update"`
	Properties map[string]string `json:"properties"`
	Public     bool              `json:"public"`
	ExpiresAt  time.Time         `json:"expires_at"`
	Profiles   []string          `json:"profiles"`
}

// Image is an image in the daemon's store (GET /1.0/images/{fingerprint}).
type Image struct {
	ImagePut
	Aliases      []ImageAlias `json:"aliases"`
	Architecture string       `json:"architecture"`
	Cached       bool         `json:"cached"`
	Filename     string       `json:"filename"`
	Fingerprint  string       `json:"fingerprint"`
	Size         int64        `json:"size"`
	Type         string       `json:"type"` // "container" or "virtual-machine"
	CreatedAt    time.Time    `json:"created_at"`
	LastUsedAt   time.Time    `json:"last_used_at"`
	UploadedAt   time.Time    `json:"uploaded_at"`
}

// ImageAlias is an alias as listed in an [Image] or given to [ImagesPost].
type ImageAlias struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// ImagesPost creates an image (POST /1.0/images), here by publishing an
// instance.
type ImagesPost struct {
	ImagePut
	Filename string            `json:"filename,omitempty"`
	Source   *ImagesPostSource `json:"source,omitempty"`
	// Aliases are created pointing at the new image.
	Aliases []ImageAlias `json:"aliases,omitempty"`
}

// ImagesPostSource is where a new image comes from.
type ImagesPostSource struct {
	// Type is "instance" (publish an instance), "snapshot", "image" or "url".
	Type string `json:"type"`
	// Name is the instance (or instance/snapshot) to publish.
	Name string `json:"name,omitempty"`
	// Fields for Type "image": copy from a remote image server.
	Mode        string `json:"mode,omitempty"`
	Server      string `json:"server,omitempty"`
	Protocol    string `json:"protocol,omitempty"`
	Alias       string `json:"alias,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// imageOperationResult is the metadata of a finished image creation.
type imageOperationResult struct {
	Fingerprint string `json:"fingerprint"`
}

// ImageAliasesEntryPut is the editable part of an alias
// (PUT /1.0/images/aliases/{name}).
type ImageAliasesEntryPut struct {
	Description string `json:"description"`
	// Target is the fingerprint of the image the alias points at.
	Target string `json:"target"`
}

// ImageAliasesEntry is an alias (GET /1.0/images/aliases/{name}).
type ImageAliasesEntry struct {
	ImageAliasesEntryPut
	Name string `json:"name"`
	Type string `json:"type"` // "container" or "virtual-machine"
}

// ImageAliasesPost creates an alias (POST /1.0/images/aliases).
type ImageAliasesPost struct {
	ImageAliasesEntry
}

// ProfilePut is the editable part of a profile (PUT /1.0/profiles/{name}).
type ProfilePut struct {
	Config      map[string]string            `json:"config"`
	Description string                       `json:"description"`
	Devices     map[string]map[string]string `json:"devices"`
}

// Profile is a profile (GET /1.0/profiles/{name}).
type Profile struct {
	ProfilePut
	Name   string   `json:"name"`
	UsedBy []string `json:"used_by"`
}

// ProfilesPost creates a profile (POST /1.0/profiles).
type ProfilesPost struct {
	ProfilePut
	Name string `json:"name"`
}

// StoragePoolPut is the editable part of a storage pool
// (PUT /1.0/storage-pools/{name}).
type StoragePoolPut struct {
	Config      map[string]string `json:"config"`
	Description string            `json:"description"`
}

// StoragePool is a storage pool (GET /1.0/storage-pools/{name}).
type StoragePool struct {
	StoragePoolPut
	Name      string   `json:"name"`
	Driver    string   `json:"driver"`
	UsedBy    []string `json:"used_by"`
	Status    string   `json:"status"`
	Locations []string `json:"locations"`
}

// StoragePoolsPost creates a storage pool (POST /1.0/storage-pools).
type StoragePoolsPost struct {
	StoragePoolPut
	Name   string `json:"name"`
	Driver string `json:"driver"` // "dir", "zfs", "btrfs", "lvm"...
}

// EventType is a kind of event on the /1.0/events stream.
type EventType string

// Event types.
const (
	EventTypeLifecycle EventType = "lifecycle"
	EventTypeLogging   EventType = "logging"
	EventTypeOperation EventType = "operation"
)

// Event is one message of the event stream (/1.0/events).
type Event struct {
	Type      EventType       `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Metadata  json.RawMessage `json:"metadata"`
	Location  string          `json:"location,omitempty"`
	Project   string          `json:"project,omitempty"`
}

// Lifecycle decodes a lifecycle event's metadata; ok is false for other
// events or undecodable metadata.
func (e Event) Lifecycle() (lc EventLifecycle, ok bool) {
	if e.Type != EventTypeLifecycle {
		return EventLifecycle{}, false
	}
	if err := json.Unmarshal(e.Metadata, &lc); err != nil {
		return EventLifecycle{}, false
	}
	return lc, true
}

// LifecycleAction is what a lifecycle event reports.
type LifecycleAction string

// Lifecycle actions of interest (LXD sends more; they are delivered too).
const (
	InstanceCreated   LifecycleAction = "instance-created"
	InstanceStarted   LifecycleAction = "instance-started"
	InstanceStopped   LifecycleAction = "instance-stopped"
	InstanceShutdown  LifecycleAction = "instance-shutdown"
	InstanceRestarted LifecycleAction = "instance-restarted"
	InstanceDeleted   LifecycleAction = "instance-deleted"
	InstanceUpdated   LifecycleAction = "instance-updated"
	InstanceRenamed   LifecycleAction = "instance-renamed"
	InstancePaused    LifecycleAction = "instance-paused"
	InstanceResumed   LifecycleAction = "instance-resumed"
	InstancePublished LifecycleAction = "instance-published"
	ImageCreated      LifecycleAction = "image-created"
	ImageDeleted      LifecycleAction = "image-deleted"
	ImageAliasCreated LifecycleAction = "image-alias-created"
	ImageAliasDeleted LifecycleAction = "image-alias-deleted"
	ImageAliasUpdated LifecycleAction = "image-alias-updated"
	ImageAliasRenamed LifecycleAction = "image-alias-renamed"
	ProfileCreated    LifecycleAction = "profile-created"
	ProfileUpdated    LifecycleAction = "profile-updated"
	ProfileDeleted    LifecycleAction = "profile-deleted"
)

// EventLifecycle is the metadata of a lifecycle event.
type EventLifecycle struct {
	Action LifecycleAction `json:"action"`
	// Source is the API path of the object, such as "/1.0/instances/foo".
	Source    string                   `json:"source"`
	Context   map[string]any           `json:"context,omitempty"`
	Requestor *EventLifecycleRequestor `json:"requestor,omitempty"`
}

// EventLifecycleRequestor says who caused a lifecycle event.
type EventLifecycleRequestor struct {
	Username string `json:"username"`
	Protocol string `json:"protocol"`
	Address  string `json:"address"`
}

// InstanceName returns the name of the instance an instance-* event is
// about; ok is false when the source is not an instance.
func (lc EventLifecycle) InstanceName() (name string, ok bool) {
	p, _, _ := strings.Cut(lc.Source, "?")
	for _, prefix := range []string{"/1.0/instances/", "/1.0/containers/", "/1.0/virtual-machines/"} {
		rest, found := strings.CutPrefix(p, prefix)
		if !found || rest == "" {
			continue
		}
		seg, _, _ := strings.Cut(rest, "/")
		name, err := url.PathUnescape(seg)
		if err != nil {
			return "", false
		}
		return name, true
	}
	return "", false
}
