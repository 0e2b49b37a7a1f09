module github.com/jobfsm/jobfsm

go 1.26.8

require (
	github.com/digitalocean/go-qemu v0.0.0-20250212194115-ee9b0668d242
	github.com/google/go-cmp v0.7.0
	github.com/qmuntal/stateless v1.7.2
	go.etcd.io/bbolt v1.4.3
	golang.org/x/sys v0.30.0
	pgregory.net/rapid v1.3.0
)

require github.com/digitalocean/go-libvirt v0.0.0-20220804181439-8648fbde413e // indirect
