package lxd

import "regexp"

// ProtocolSimpleStreams is the protocol of image servers such as Ubuntu's,
// for [InstanceSource].
const ProtocolSimpleStreams = "simplestreams"

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
// RemoteImage("https://cloud-images.ubuntu.com/releases", "22.04").
func RemoteImage(server, alias string) InstanceSource {
	return InstanceSource{Type: "image", Mode: "pull", Server: server, Protocol: ProtocolSimpleStreams, Alias: alias}
}
