package main

// This file makes the package a cgo package, so that fastpaths.c (the
// marker that turns on nsenter's C fast paths for this binary) is built
// and linked.

import "C"
