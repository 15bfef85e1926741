// Command emptygo is the benchmarks' baseline for process start: a Go
// program that does nothing, built the way install.sh builds pixi-lima.
package main

func main() {}
