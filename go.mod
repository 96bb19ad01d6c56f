module github.com/cardmod/cardmod

go 1.26.0

require (
	filippo.io/bigmod v0.1.0
	github.com/ebfe/scard v0.0.0-20241214075232-7af069cabc25
	github.com/stretchr/testify v1.12.1
	golang.org/x/crypto v0.59.0
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
