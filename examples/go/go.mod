module github.com/ach-risk/ach-risk/examples/go

go 1.26.0

require (
	github.com/ach-risk/ach-risk/gen/go v0.0.0
	google.golang.org/genproto v0.0.0-20261026165753-2ffab32bce7e
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c
	google.golang.org/grpc v1.85.0
)

require (
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

// The generated code is not published; `make examples-gen` writes it to ./gen.
replace github.com/ach-risk/ach-risk/gen/go => ./gen
