package lxd

import (
	"fmt"
	"regexp"
	"strings"
)

// Image servers and their protocol, for [InstanceSource].
const (
	// UbuntuServer serves Ubuntu's release images (the "ubuntu:" remote).
	UbuntuServer = "https://cloud-images.ubuntu.com/releases"
	// UbuntuDailyServer serves Ubuntu's daily images ("ubuntu-daily:").
	UbuntuDailyServer = "https://cloud-images.ubuntu.com/daily"
	// ProtocolSimpleStreams is the protocol of those servers.
	ProtocolSimpleStreams = "simplestreams"
)

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{12,64}$`)

// LocalImage returns the source of an instance made from an image of the
// daemon's own store, named by alias or by fingerprint (12 to 64 lower-case
// hex digits are taken as a fingerprint or its prefix).
func LocalImage(ref string) InstanceSource {
	if fingerprintRE.MatchString(ref) {
		return InstanceSource{Type: "image", Fingerprint: ref}
	}
	return InstanceSource{Type: "image", Alias: ref}
}

// RemoteImage returns the source of an instance made from an image the
// daemon pulls from a simplestreams server, such as
// RemoteImage(UbuntuServer, "22.04").
func RemoteImage(server, alias string) InstanceSource {
	return InstanceSource{Type: "image", Mode: "pull", Server: server, Protocol: ProtocolSimpleStreams, Alias: alias}
}

// ParseImageSource parses an image reference as the lxc command line writes
// it: "ubuntu:22.04" or "ubuntu-daily:noble" name an image on Ubuntu's
// servers; a reference without a remote is a local alias or fingerprint
// (see [LocalImage]). Other remotes are refused.
func ParseImageSource(ref string) (InstanceSource, error) {
	remote, name, found := strings.Cut(ref, ":")
	if !found {
		remote, name = "", ref
	}
	if name == "" {
		return InstanceSource{}, fmt.Errorf("invalid image reference %q: no image name", ref)
	}
	switch remote {
	case "", "local":
		return LocalImage(name), nil
	case "ubuntu":
		return RemoteImage(UbuntuServer, name), nil
	case "ubuntu-daily":
		return RemoteImage(UbuntuDailyServer, name), nil
	default:
		return InstanceSource{}, fmt.Errorf("invalid image reference %q: unknown remote %q (known: ubuntu, ubuntu-daily, local)", ref, remote)
	}
}
