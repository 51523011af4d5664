// A sample package whose tests need root-like powers. It is the end-to-end
// fixture of `go test -exec 'sandbox run --'` and of package sandboxtest:
// the e2e tests copy it, point the replace directive at the checkout and
// vendor it, then run `go test` as an unprivileged uid.
module example.com/rootlike

go 1.26

require github.com/podsandbox/sandbox v0.0.0

replace github.com/podsandbox/sandbox => ../..
