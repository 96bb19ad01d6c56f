package basecsp

import "github.com/cardmod/cardmod/internal/cspcore"

// ParseName splits a container name of one of the four Windows forms
// (Microsoft's "Smart Card Architecture": "Container specification
// levels"): `\\.\Reader\Container` (that container on the card in that
// reader), `\\.\Reader\` or `\\.\Reader` (the default container of the card
// in that reader), `Container` (that container on any card) and "" (the
// default container of any card). The reader name ends at the first
// backslash after the prefix; container names cannot hold a backslash.
func ParseName(name string) (reader, container string, err error) {
	return cspcore.ParseName(name, ErrBadName)
}
