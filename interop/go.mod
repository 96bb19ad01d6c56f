module github.com/cardmod/cardmod/interop

go 1.26.0

require (
	github.com/cardmod/cardmod v0.0.0-00010101000000-000000000000
	github.com/go-piv/piv-go/v2 v2.6.0
	github.com/stretchr/testify v1.12.1
)

require (
	filippo.io/bigmod v0.1.0 // indirect
	github.com/ebfe/scard v0.0.0-20241214075232-7af069cabc25 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/term v0.48.0 // indirect
)

replace github.com/cardmod/cardmod => ../
