# Convenience targets; ./scripts/test.sh is the one test command (CI runs it).
.PHONY: all test unit vet staticcheck fmt nocgo bench-pcscd

all: test

# Everything: installs (as root), static checks, and go test -race ./...
# against a private pcscd with vpcd readers.
test:
	./scripts/test.sh

# Quick: go test -race without pcscd (the pcscd tests skip).
unit:
	go test -race ./...

vet:
	go vet ./...

staticcheck:
	staticcheck ./...

fmt:
	gofmt -w $$(git ls-files -co --exclude-standard '*.go')

nocgo:
	CGO_ENABLED=0 go build ./...

# One APDU through pcscd and vpcd (ns/op, allocs/op, APDUs/op, bytes).
bench-pcscd:
	CARDMOD_TEST_PKGS=./scrm/pcsc ./scripts/test.sh -run '^$$' -bench Transmit -benchmem
