// The generated achrisk.v1 code (`make examples-gen` writes it next to this file), as the
// module its go_package names. Not published yet: the example uses it through a replace.
module github.com/ach-risk/ach-risk/gen/go

go 1.24
